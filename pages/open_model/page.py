"""Open a model: import a VAE trained elsewhere (an ONNX pair, a pythae folder) as a portable bundle."""

import streamlit as st

from pages.open_model import import_check, open_model
from ui import access

st.title("Open a model trained elsewhere")
form_column, job_column = st.columns([1, 2], gap="large")
with form_column:
    if access.unlocked():
        open_model.form()
    else:
        access.token_form("uploads and imports models")
with job_column:
    import_check.show()
    open_model.job_panel()
