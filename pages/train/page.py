"""Train: start a training job in its own process, watch it learn, cancel it, open the result."""

import streamlit as st

from pages.train import train_job
from ui import access, background
from ui.text import md
from vae.training.backend import EngineUnreachable

st.title("Train a new model")
jobs = background.training_jobs()
if jobs is None:
    st.stop()
try:
    job = jobs.current()
except EngineUnreachable as exc:  # the user chose Ray: say so, never fall back to local jobs
    st.error(md(exc))
    st.stop()
form_column, job_column = st.columns([1, 2], gap="large")
with form_column:
    if access.unlocked():
        train_job.form(jobs, job)
    else:
        access.token_form("starts and cancels training")
with job_column:
    train_job.job_panel(jobs)
