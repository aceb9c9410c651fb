"""Uploaded images that are not what they say: refused with a reason, never handed to an outside program
(issue 12's reliability items); a photo of another shape keeps its proportions."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from vae.data.images import ImageInputError, load_image


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_a_tiff_named_png_is_refused(tmp_path):
    tiff = encoded(Image.new("L", (40, 40), 200), "TIFF")
    with pytest.raises(ImageInputError, match="not a supported image"):
        load_image(tiff, (1, 28, 28), name="photo.png")


def test_an_eps_never_reaches_ghostscript(monkeypatch):
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: pytest.fail("Ghostscript was called"))
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n%%EOF\n"
    with pytest.raises(ImageInputError, match="not a supported image"):
        load_image(eps, (1, 28, 28), name="drawing.png")


def test_a_wide_photo_keeps_its_aspect_ratio_padded_with_its_background():
    photo = Image.new("L", (3000, 2000), 255)
    photo.paste(0, (1000, 500, 2000, 1500))  # a dark square in the middle of a white photo
    pixels = load_image(encoded(photo, "PNG"), (1, 28, 28), fit="pad")[0]
    dark_rows, dark_cols = np.flatnonzero((pixels < 128).any(axis=1)), np.flatnonzero((pixels < 128).any(axis=0))
    assert abs(len(dark_rows) - len(dark_cols)) <= 1  # a square stays square
    assert pixels[0].min() > 200 and pixels[-1].min() > 200  # the padding is the photo's white
    stretched = load_image(encoded(photo, "PNG"), (1, 28, 28))[0]
    assert len(np.flatnonzero((stretched < 128).any(axis=1))) > len(np.flatnonzero((stretched < 128).any(axis=0)))
