"""VAE Lab: `vae-lab serve` (or `python -m ui.serve`) runs this. Declares the pages, nothing else."""

import streamlit as st

from ui import preload

preload.wait()  # the server's imports of the pages' modules (ui/serve.py) end before this run's begin

from ui import access  # noqa: E402
from ui.navigation import PAGES  # noqa: E402

# An emoji favicon: a ":material/...:" page icon is fetched from fonts.gstatic.com, while the
# navigation's Material icons come from the font Streamlit serves itself.
st.set_page_config(page_title="VAE Lab", page_icon="🧭", layout="wide")
refused = access.exposure_problem(st.get_option("server.address") or "", access.operator_token())
if refused:  # `streamlit run ui/app.py --server.address 0.0.0.0`, which bypasses ui.serve's check
    st.error(refused)
    st.stop()
pages = [st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(PAGES)]
st.navigation(pages).run()
