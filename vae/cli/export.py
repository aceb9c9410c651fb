"""Export a bundle as a static site: the map, the images and live decoding, with no Python server.

    vae-lab export checkpoints/fashion-mnist-conv-z16 --out site/
    python -m http.server -d site/ 8000      # or any static host: GitHub Pages, a web folder

Only the decoder leaves (--no-encoder, the default): the site decodes codes but cannot encode images.
"""

from __future__ import annotations

import argparse

from vae.bundle import BundleError
from vae.cli.errors import fail
from vae.cli.tables import format_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    from vae.share.site import DEFAULT_IMAGES, MAX_IMAGES
    from vae.share.site_data import PROJECTIONS

    p.add_argument("bundle", help="the bundle directory")
    p.add_argument("--out", required=True, help="the site's folder (new, empty, or an earlier export, replaced)")
    p.add_argument("--images", type=int, default=DEFAULT_IMAGES,
                   help=f"test images on the site: a fixed sample when the bundle has more (1..{MAX_IMAGES:,})")
    p.add_argument("--projection", choices=PROJECTIONS,
                   help="the map (default: UMAP, else the 2-D latent, else PCA)")
    p.add_argument("--no-encoder", action="store_true", default=True,
                   help="only the decoder leaves (the default and, for now, the only choice)")


def run(args: argparse.Namespace) -> int:
    """Write the site and print its files' sizes; 2 for an unusable bundle or folder."""
    from vae.share.site import export_site

    try:
        report = export_site(args.bundle, args.out, args.images, args.projection)
    except BundleError as exc:
        return fail(exc)
    rows = [(name, f"{size / 2**20:.2f}") for name, size in report.sizes.items()]
    rows.append(("total", f"{report.total_bytes / 2**20:.2f}"))
    print(format_table(["file", "MB"], rows))
    print(f"{report.n_images:,} images; serve {report.out} with any static file server, "
          f"e.g. python -m http.server -d {report.out}")
    return 0
