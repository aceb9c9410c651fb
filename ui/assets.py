"""Where the app's browser files live: the custom components' JS and CSS, and what Streamlit serves.

Both sit in ui/, beside ui/app.py: Streamlit serves the static/ folder beside its entry script at
/app/static/ (the root's static/ is a link to this one, for `streamlit run app.py`).
"""

from pathlib import Path

COMPONENTS_DIR = Path(__file__).resolve().parent / "components"
STATIC_DIR = Path(__file__).resolve().parent / "static"
