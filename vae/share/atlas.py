"""Images tiled into one picture: the browser draws any one of them (a hover thumbnail) with no request.

The layout, which ui/components/map_events.js reads (as for the app's JPEG atlas): tiles of
`height` x `width` px, `columns` per row, row by row in the order of the images, no gaps. The
site's atlas is WebP: on the shipped 10,000 Fashion-MNIST images, WebP at quality 80 is 1.95 MB
at 38.7 dB PSNR, JPEG at 85 (the app's) 3.18 MB at 35.7 dB.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from vae.media import to_pixels

WEBP_QUALITY = 80
MAX_SIDE_PX = 16_383  # WebP's limit


def atlas_webp(images: np.ndarray, indices: np.ndarray) -> tuple[bytes, dict]:
    """The images at `indices` of uint8 (N, C, H, W) `images` as WebP bytes, and the tile layout."""
    n, (height, width) = len(indices), images.shape[2:]
    columns = max(1, int(np.ceil(np.sqrt(n))))
    rows = -(-n // columns)
    if max(rows * height, columns * width) > MAX_SIDE_PX:
        raise ValueError(f"{n:,} images of {height}x{width} make an atlas wider than {MAX_SIDE_PX:,} px: "
                         "take fewer images (--images)")
    pixels = to_pixels(images[indices])  # (n, H, W) grey or (n, H, W, 3)
    padded = np.full((rows * columns, *pixels.shape[1:]), 255, dtype=np.uint8)
    padded[:n] = pixels
    tiles = padded.reshape(rows, columns, height, width, *pixels.shape[3:])
    grid = tiles.swapaxes(1, 2).reshape(rows * height, columns * width, *pixels.shape[3:])  # (rows*H, cols*W[, 3])
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="WEBP", quality=WEBP_QUALITY, method=6)
    return buffer.getvalue(), {"columns": columns, "height": int(height), "width": int(width)}
