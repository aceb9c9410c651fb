"""VAE Lab as `vae-lab serve` runs it (`python -m ui.serve`), from a checkout or the installed package.

Its twin at the repository root, app.py, is for `streamlit run app.py`; both run ui/entry.py. This one
sits beside ui/static/ and ui/.streamlit/, which Streamlit finds through the entry script's folder.
"""

from ui import entry

entry.run()
