"""Train: start a training job in its own process, watch it learn, cancel it, open the result."""

import streamlit as st

from ui import training

st.title("Train a new model")
jobs = training.registry()
job = jobs.current()
form_column, job_column = st.columns([1, 2], gap="large")
with form_column:
    training.form(jobs, job)
with job_column:
    training.job_panel(jobs)
