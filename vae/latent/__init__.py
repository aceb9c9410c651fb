"""Latent-space tools: 2-D maps, placement on them and back, paths, attribute directions, selections."""
