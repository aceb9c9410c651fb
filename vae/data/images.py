"""Turn user image files into uint8 arrays of a fixed model input shape, safely."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vae.files import read_regular

# Refuse anything bigger than a large photo: a decompression bomb must not reach decode().
MAX_PIXELS = 64_000_000
MAX_FILE_BYTES = 50 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# The only decoders Pillow may use: a TIFF named .png, or an EPS that would reach Ghostscript, is
# refused as "not a supported image" instead of being decoded by whatever plugin claims it.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
FITS = ("stretch", "pad")


class ImageInputError(ValueError):
    """An image file that cannot be used, with a message fit for the user."""


def _padded(image: Image.Image, width: int, height: int) -> Image.Image:
    """`image` scaled to fit (width, height) with its aspect ratio kept, on a canvas of its border's colour."""
    scale = min(width / image.width, height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    fitted = image.resize(size, Image.Resampling.BILINEAR)
    pixels = np.asarray(fitted)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = tuple(int(v) for v in np.atleast_1d(np.median(border, axis=0)))
    canvas = Image.new(image.mode, (width, height), background if len(background) > 1 else background[0])
    canvas.paste(fitted, ((width - size[0]) // 2, (height - size[1]) // 2))
    return canvas


def load_image(source: bytes | str | Path, shape: tuple[int, int, int], name: str = "",
               fit: str = "stretch") -> np.ndarray:
    """Decode, convert (L or RGB) and resize an image to uint8 (C, H, W).

    `fit="stretch"` resizes to the shape; `fit="pad"` keeps the aspect ratio and pads the short
    side with the colour of the image's border (a circle stays a circle).
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}")
    channels, height, width = shape
    label = name or str(source if not isinstance(source, bytes) else "upload")
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = read_regular(source, MAX_FILE_BYTES)
        except OSError as exc:
            raise ImageInputError(f"{label}: cannot read file ({exc})") from exc
    if not data:
        raise ImageInputError(f"{label}: the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImageInputError(f"{label}: file is over {MAX_FILE_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageInputError(
                        f"{label}: {image.width}x{image.height} is too large "
                        f"(limit {MAX_PIXELS // 1_000_000} megapixels)"
                    )
                # draft() lets JPEG decode at a reduced scale: a 12 MP photo loads in milliseconds.
                image.draft("RGB" if channels == 3 else "L", (width, height))
                image = image.convert("RGB" if channels == 3 else "L")
                if fit == "pad":
                    image = _padded(image, width, height)
                else:
                    image = image.resize((width, height), Image.Resampling.BILINEAR)
                array = np.asarray(image, dtype=np.uint8)
    except ImageInputError:
        raise
    except UnidentifiedImageError as exc:
        formats = ", ".join(IMAGE_FORMATS)
        raise ImageInputError(f"{label}: not a supported image (its contents are not {formats})") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(f"{label}: not a supported image (too many pixels to decode safely)") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageInputError(f"{label}: corrupt or truncated image ({exc})") from exc
    if channels == 1:
        return array[None, :, :]
    return array.transpose(2, 0, 1).copy()
