"""Sharing a model outside the app: a static site (`vae-lab export`) that needs no Python server.

The site reuses the app's own browser code (ui/components/: the map's companion, the live decoder
and its onnxruntime-web decoder), copied in at export time, so there is one copy of each.
"""

from vae.share.site import SiteReport, export_site

__all__ = ["SiteReport", "export_site"]
