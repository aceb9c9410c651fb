"""Train: start a training job in its own process, watch it learn, cancel it, open the result."""

import streamlit as st

from ui import access, training

st.title("Train a new model")
jobs = training.registry()
if jobs is None:
    st.stop()
job = jobs.current()
form_column, job_column = st.columns([1, 2], gap="large")
with form_column:
    if access.unlocked():
        training.form(jobs, job)
    else:
        access.token_form("starts and cancels training")
with job_column:
    training.job_panel(jobs)
