"""The explorer as a Jupyter widget: `from vae_lab.notebook import explore` (needs `pip install vae-lab[notebook]`)."""

from vae.share.widget import Explorer, explore, in_memory_bundle

__all__ = ["Explorer", "explore", "in_memory_bundle"]
