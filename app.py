"""VAE Lab: `streamlit run app.py` from the repository root (`./run.sh` and `vae-lab serve` run ui/app.py).

The pages are the folders of pages/ (ui/navigation.py names them); ui/entry.py runs every time,
before any page. static/ and .streamlit/ here are links to ui/'s, which the installed package carries.
"""

from ui import entry

entry.run()
