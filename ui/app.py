"""VAE Lab: `vae-lab serve` (or `python -m ui.serve`) runs this. Declares the pages, nothing else."""

import streamlit as st

from ui.navigation import PAGES

st.set_page_config(page_title="VAE Lab", page_icon=":material/explore:", layout="wide")
pages = [st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(PAGES)]
st.navigation(pages).run()
