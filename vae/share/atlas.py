"""Images tiled into one JPEG: the browser draws any one of them (a hover thumbnail) with no request.

The layout, which ui/components/map_events.js reads: tiles of `height` x `width` px, `columns` per
row, row by row in the order of `indices` (each tile's image index), no gaps.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from vae.media import to_pixels

JPEG_QUALITY = 85
MAX_SIDE_PX = 16_384  # browsers decode larger pictures slowly or not at all


def atlas_jpeg(images: np.ndarray, indices: np.ndarray) -> tuple[bytes, dict]:
    """The images at `indices` of uint8 (N, C, H, W) `images` as JPEG bytes, and the tile layout."""
    n, (height, width) = len(indices), images.shape[2:]
    columns = max(1, int(np.ceil(np.sqrt(n))))
    rows = -(-n // columns)
    if max(rows * height, columns * width) > MAX_SIDE_PX:
        raise ValueError(f"{n:,} images of {height}x{width} make an atlas wider than {MAX_SIDE_PX:,} px: "
                         "take fewer images")
    pixels = to_pixels(images[indices])  # (n, H, W) grey or (n, H, W, 3)
    padded = np.full((rows * columns, *pixels.shape[1:]), 255, dtype=np.uint8)
    padded[:n] = pixels
    tiles = padded.reshape(rows, columns, height, width, *pixels.shape[3:])
    grid = tiles.swapaxes(1, 2).reshape(rows * height, columns * width, *pixels.shape[3:])  # (rows*H, cols*W[, 3])
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue(), {"columns": columns, "height": int(height), "width": int(width)}
