"""Turn user image files into uint8 arrays of a fixed model input shape, safely."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# Refuse anything bigger than a large photo: a decompression bomb must not reach decode().
MAX_PIXELS = 64_000_000
MAX_FILE_BYTES = 50 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


class ImageInputError(ValueError):
    """An image file that cannot be used, with a message fit for the user."""


def load_image(source: bytes | str | Path, shape: tuple[int, int, int], name: str = "") -> np.ndarray:
    """Decode, convert (L or RGB) and resize an image to uint8 (C, H, W)."""
    channels, height, width = shape
    label = name or str(source if not isinstance(source, bytes) else "upload")
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ImageInputError(f"{label}: cannot read file ({exc})") from exc
    if not data:
        raise ImageInputError(f"{label}: the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImageInputError(f"{label}: file is over {MAX_FILE_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageInputError(
                        f"{label}: {image.width}x{image.height} is too large "
                        f"(limit {MAX_PIXELS // 1_000_000} megapixels)"
                    )
                # draft() lets JPEG decode at a reduced scale: a 12 MP photo loads in milliseconds.
                image.draft("RGB" if channels == 3 else "L", (width, height))
                image = image.convert("RGB" if channels == 3 else "L")
                image = image.resize((width, height), Image.Resampling.BILINEAR)
                array = np.asarray(image, dtype=np.uint8)
    except ImageInputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(f"{label}: not a supported image ({type(exc).__name__})") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageInputError(f"{label}: corrupt or truncated image ({exc})") from exc
    if channels == 1:
        return array[None, :, :]
    return array.transpose(2, 0, 1).copy()
