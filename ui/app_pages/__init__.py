"""The app's pages: scripts Streamlit runs through `st.navigation` (ui/app.py), thin callers of ui and vae."""
