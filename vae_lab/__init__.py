"""VAE Lab's public entry points for use from Python (the library itself is `vae`, the app `ui`)."""
