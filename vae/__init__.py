"""VAE Lab's library: models, data, training, bundles, latent-space tools and the `vae-lab` command (no Streamlit)."""
