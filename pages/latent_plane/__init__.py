"""The Latent plane page: its script (page.py, which Streamlit runs) and the parts only it uses."""
