"""What every run of the app does first, whichever script Streamlit was started on (app.py, ui/app.py).

Wait for the server's imports of the pages' modules (ui/preload.py), refuse to serve an exposed
address without an access token (ui/access.py), then run the page the URL names. Streamlit runs the
entry script before every page, deep links included, so no page is reached without these checks.
"""

from __future__ import annotations

import streamlit as st

from ui import preload


def run() -> None:
    preload.wait()  # the server's imports of the pages' modules (ui/serve.py) end before this run's begin
    from ui import access, navigation

    # An emoji favicon: a ":material/...:" page icon is fetched from fonts.gstatic.com, while the
    # navigation's Material icons come from the font Streamlit serves itself.
    st.set_page_config(page_title="VAE Lab", page_icon="🧭", layout="wide")
    refused = access.exposure_problem(st.get_option("server.address") or "", access.operator_token())
    if refused:  # `streamlit run app.py --server.address 0.0.0.0`, which bypasses ui.serve's check
        st.error(refused)
        st.stop()
    st.navigation(navigation.declared()).run()
