"""The `vae-lab` command: `serve` (the app), `train` and `evaluate`; see `vae-lab --help`."""
