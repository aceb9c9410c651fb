"""Interpolation, traversals, attribute directions, completion, downloads and upload preprocessing."""

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from vae.data.images import MAX_PIXELS, ImageInputError, load_image
from vae.latent.attributes import attribute_direction, class_centroid
from vae.latent.paths import lerp, path_codes, slerp, traversal_codes
from vae.media import gif_bytes, interpolation_gif, png_bytes, there_and_back
from vae.models import MLPConfig, build_model
from vae.models.inference import complete, prior_codes

rng = np.random.default_rng(0)


def unit(v):
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("fn", [lerp, slerp])
def test_interpolation_hits_both_endpoints(fn):
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    assert np.allclose(fn(a, b, 0.0), a) and np.allclose(fn(a, b, 1.0), b)


def test_slerp_keeps_unit_vectors_on_the_sphere_and_lerp_does_not():
    a, b = unit(rng.standard_normal(16)), unit(rng.standard_normal(16))
    for t in np.linspace(0, 1, 11):
        assert np.linalg.norm(slerp(a, b, t)) == pytest.approx(1.0, abs=1e-9)
    assert np.linalg.norm(lerp(a, b, 0.5)) < 0.99


def test_slerp_midpoint_of_orthogonal_vectors_bisects_the_angle():
    mid = slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.5)
    assert np.allclose(mid, [np.sqrt(0.5), np.sqrt(0.5)])


def test_slerp_moves_at_constant_angular_speed():
    a, b = unit(rng.standard_normal(8)), unit(rng.standard_normal(8))
    angles = [np.arccos(np.clip(np.dot(a, unit(slerp(a, b, t))), -1, 1)) for t in (0.25, 0.5, 0.75, 1.0)]
    assert np.allclose(np.diff([0.0, *angles]), angles[-1] / 4)


@pytest.mark.parametrize("a, b", [(np.zeros(4), np.ones(4)), (np.ones(4), 2 * np.ones(4)),
                                  (np.ones(4), -np.ones(4))])
def test_slerp_degenerate_cases_fall_back_to_lerp(a, b):
    assert np.allclose(slerp(a, b, 0.3), lerp(a, b, 0.3))


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolate_gives_steps_codes_between_the_ends(method):
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    codes = path_codes(a, b, 7, method)
    assert codes.shape == (7, 5) and codes.dtype == np.float32
    assert np.allclose(codes[0], a, atol=1e-6) and np.allclose(codes[-1], b, atol=1e-6)
    with pytest.raises(ValueError):
        path_codes(a, b, 1, method)
    with pytest.raises(ValueError):
        path_codes(a, b, 5, "cubic")


def test_traversal_grid_shape_and_values():
    code = rng.standard_normal(6).astype(np.float32)
    grid = traversal_codes(code, [4, 1], steps=5, span=3.0)
    assert grid.shape == (2, 5, 6)
    assert np.allclose(grid[0, :, 4], [-3, -1.5, 0, 1.5, 3]) and np.allclose(grid[1, :, 1], [-3, -1.5, 0, 1.5, 3])
    untouched = [d for d in range(6) if d != 4]
    assert np.allclose(grid[0][:, untouched], code[untouched])


def test_centroids_and_attribute_direction():
    codes = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [0.0, 6.0]])
    labels = np.array([0, 0, 1, 1])
    assert np.allclose(class_centroid(codes, labels, 1), [0, 5])
    assert np.allclose(attribute_direction(codes, np.array([0, 1]), np.array([2, 3])), [-1, 5])
    with pytest.raises(ValueError):
        class_centroid(codes, labels, 7)
    with pytest.raises(ValueError):
        attribute_direction(codes, np.array([], int), np.array([1]))


def test_prior_codes_are_reproducible_and_scaled_by_temperature():
    a, b = prior_codes(2000, 4, 0.5, seed=3), prior_codes(2000, 4, 0.5, seed=3)
    assert np.array_equal(a, b) and a.std() == pytest.approx(0.5, rel=0.05)
    assert not np.array_equal(a, prior_codes(2000, 4, 0.5, seed=4))


def test_completion_keeps_visible_pixels_and_fills_the_hole():
    torch.manual_seed(0)
    model = build_model(MLPConfig(latent_dim=3, hidden=(16,))).eval()
    image = rng.integers(0, 256, (1, 28, 28)).astype(np.uint8)
    mask = np.zeros((28, 28), bool)
    mask[10:20, 5:15] = True
    filled = complete(model, image, mask, iterations=5)
    assert filled.shape == image.shape and filled.dtype == np.uint8
    assert np.array_equal(filled[:, ~mask], image[:, ~mask])
    # One pass: the hole holds the decoding of the image whose hole is black.
    one = complete(model, image, mask, iterations=1)
    with torch.no_grad():
        x = torch.from_numpy(np.where(mask, 0, image).astype(np.float32) / 255)[None]
        expected = model.decode(model.encode(x)[0])[0].numpy() * 255
    assert np.abs(one[:, mask] - expected[:, mask]).max() <= 1


@pytest.mark.parametrize("n", [2, 3, 10, 32])
def test_gif_goes_there_and_back_in_2n_minus_2_frames(n):
    frames = np.repeat(np.linspace(0, 255, n).astype(np.uint8)[:, None, None], 84, axis=1).repeat(84, axis=2)
    loop, ts = there_and_back(frames)
    assert len(loop) == len(ts) == max(2, 2 * n - 2)
    gif = Image.open(io.BytesIO(interpolation_gif(frames)))
    assert gif.format == "GIF" and gif.n_frames == max(2, 2 * n - 2) and gif.info.get("loop") == 0


def test_identical_frames_still_give_every_frame():
    gif = Image.open(io.BytesIO(interpolation_gif(np.zeros((6, 84, 84), np.uint8))))
    assert gif.n_frames == 10
    assert Image.open(io.BytesIO(gif_bytes(np.zeros((3, 8, 8), np.uint8)))).n_frames == 1  # why the marker exists


def test_png_strip_round_trips():
    pixels = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(pixels)))), pixels)


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_a_photo_sized_jpeg_becomes_a_small_model_input():
    photo = Image.fromarray(rng.integers(0, 256, (3000, 4000, 3)).astype(np.uint8))
    pixels = load_image(encoded(photo, "JPEG", quality=90), (1, 28, 28))
    assert pixels.shape == (1, 28, 28) and pixels.dtype == np.uint8
    assert load_image(encoded(photo, "JPEG"), (3, 32, 32)).shape == (3, 32, 32)


def test_colour_and_alpha_images_are_converted_to_the_model_channels():
    rgba = Image.new("RGBA", (50, 40), (255, 0, 0, 128))
    grey = load_image(encoded(rgba, "PNG"), (1, 28, 28))
    assert grey.shape == (1, 28, 28) and 60 < grey.mean() < 100  # red's luminance
    assert load_image(encoded(Image.new("L", (9, 9), 200), "PNG"), (3, 32, 32)).shape == (3, 32, 32)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (rng.integers(0, 256, 5000).astype(np.uint8).tobytes(), "not a supported image"),
    (b"%PDF-1.4 not an image", "not a supported image"),
])
def test_bad_uploads_give_a_clear_message(data, message):
    with pytest.raises(ImageInputError, match=message):
        load_image(data, (1, 28, 28), name="upload.png")


def test_a_truncated_image_is_refused():
    data = encoded(Image.fromarray(rng.integers(0, 256, (64, 64)).astype(np.uint8)), "PNG")
    with pytest.raises(ImageInputError, match="corrupt or truncated"):
        load_image(data[: len(data) // 2], (1, 28, 28))


def blank_png(width: int, height: int) -> bytes:
    """A black 1-bit PNG, written chunk by chunk: no picture of that size is ever held in memory."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\0" * (1 + (width + 7) // 8)) * height  # filter byte 0, then the packed row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def test_a_decompression_bomb_is_refused_before_decoding():
    bomb = blank_png(20_000, 20_000)  # 400 megapixels in a few kB: over twice Pillow's limit
    assert len(bomb) < 200_000
    with pytest.raises(ImageInputError, match="not a supported image \\(too many pixels"):
        load_image(bomb, (1, 28, 28))


def test_an_image_within_pillows_limit_but_over_ours_is_refused_by_ours():
    width, height = 9_000, 8_000  # 72 megapixels: Pillow warns only above Image.MAX_IMAGE_PIXELS (89 M)
    assert MAX_PIXELS < width * height <= Image.MAX_IMAGE_PIXELS
    data = blank_png(width, height)
    assert len(data) < 100_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow opens it without a DecompressionBombWarning ...
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (width, height)
    with pytest.raises(ImageInputError, match=f"9000x8000 is too large \\(limit {MAX_PIXELS // 10**6} megapixels"):
        load_image(data, (1, 28, 28), name="big.png")  # ... so only the project's own check stops it
