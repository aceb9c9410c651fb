"""The checkpoint bundle: one directory that holds everything the explorer needs (docs/bundle.md)."""

from vae.bundle.format import CONFIG, IMAGES, LATENTS, WEIGHTS, Bundle, BundleError
from vae.bundle.read import load_bundle, read_config
from vae.bundle.write import add_per_image, add_projection, update_config, write_bundle

__all__ = [
    "CONFIG", "IMAGES", "LATENTS", "WEIGHTS", "Bundle", "BundleError", "add_per_image", "add_projection", "load_bundle",
    "read_config", "update_config", "write_bundle",
]
