"""VAE Lab: `streamlit run app.py [-- --checkpoints DIR]`. Declares the pages, nothing else."""

import streamlit as st

st.set_page_config(page_title="VAE Lab", page_icon=":material/explore:", layout="wide")
pages = [
    st.Page("app_pages/explore.py", title="Explore", icon=":material/map:", default=True),
    st.Page("app_pages/interpolate.py", title="Interpolate", icon=":material/timeline:"),
    st.Page("app_pages/generate.py", title="Generate", icon=":material/auto_awesome:"),
    st.Page("app_pages/own_image.py", title="Your image", icon=":material/upload:"),
    st.Page("app_pages/model.py", title="Model card", icon=":material/badge:"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
]
st.navigation(pages).run()
