"""A million-point map: selection over every point, the view's sample and picture, mapped images."""

import json

import numpy as np
import pytest

from tests.conftest import bundle_meta, train_tiny
from vae.bundle import BundleError, load_bundle
from vae.bundle.format import CONFIG, IMAGES, IMAGES_MAPPED, sha256_of
from vae.bundle.write import write_bundle
from vae.latent import selection
from vae.latent.density import bin_counts, class_density, value_density
from vae.latent.placement import InverseProjector
from vae.latent.selection import draw_priority, points_in_box, points_in_polygon, view_subset

N = 1_000_000


@pytest.fixture(scope="module")
def million_xy() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(N, 2)).astype(np.float32)


def test_a_box_on_a_million_point_map_selects_every_point_inside_it(million_xy):
    x_range, y_range = (0.9, -0.3), (-1.2, 0.4)  # either corner order
    chosen = points_in_box(million_xy, x_range, y_range)
    x, y = million_xy[:, 0], million_xy[:, 1]
    inside = (x >= -0.3) & (x <= 0.9) & (y >= -1.2) & (y <= 0.4)
    assert len(chosen) > 100_000
    assert np.array_equal(chosen, np.flatnonzero(inside))  # every point inside, none outside


def test_a_lasso_on_a_million_points_tests_them_a_block_at_a_time(million_xy, monkeypatch):
    angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    lasso_x, lasso_y = 1.5 * np.cos(angles), np.sin(angles)  # an ellipse of 200 vertices
    chosen = points_in_polygon(million_xy, lasso_x, lasso_y)
    x, y = million_xy[:, 0].astype(np.float64), million_xy[:, 1].astype(np.float64)
    ellipse = (x / 1.5) ** 2 + y**2
    assert np.isin(np.flatnonzero(ellipse < 0.99), chosen).all()  # inside the polygon, away from its edges
    assert not np.isin(np.flatnonzero(ellipse > 1.01), chosen).any()
    monkeypatch.setattr(selection, "POLYGON_BLOCK_ENTRIES", 1_000)  # smaller blocks, the same answer
    assert np.array_equal(points_in_polygon(million_xy[:50_000], lasso_x, lasso_y), chosen[chosen < 50_000])


def test_a_view_draws_every_point_in_it_once_few_enough_are_and_zooming_in_only_adds_points(million_xy):
    priority = draw_priority(N)
    whole = view_subset(million_xy, priority, (-5.0, 5.0, -5.0, 5.0), 10_000)
    assert len(whole) == 10_000 and np.array_equal(whole, np.sort(whole))
    closer = view_subset(million_xy, priority, (0.0, 1.0, 0.0, 1.0), 10_000)
    assert np.isin(whole[points_in_box(million_xy[whole], (0.0, 1.0), (0.0, 1.0))], closer).all()
    close = (0.0, 0.1, 0.0, 0.1)
    assert np.array_equal(view_subset(million_xy, priority, close, 10_000),
                          points_in_box(million_xy, (0.0, 0.1), (0.0, 0.1)))


def test_the_density_picture_counts_every_point_in_view_in_its_class_colours(million_xy):
    view = (-1.0, 1.0, -1.0, 1.0)
    counts = bin_counts(million_xy, view, 64, 48)
    assert counts.shape == (48, 64, 1)
    # Points on the view's right or top edge fall outside its last pixel: count the open box.
    x, y = million_xy[:, 0], million_xy[:, 1]
    assert counts.sum() == np.count_nonzero((x >= -1) & (x < 1) & (y > -1) & (y <= 1))
    labels = (million_xy[:, 0] > 0).astype(np.int64)  # class 1 on the right half
    rgba = class_density(million_xy, labels, np.array([[255, 0, 0], [0, 0, 255]]), view, 64, 48)
    assert tuple(rgba[24, 10, :3]) == (255, 0, 0) and tuple(rgba[24, 50, :3]) == (0, 0, 255)
    assert rgba[..., 3].max() == 255 and 0 < rgba[0, 0, 3] < rgba[24, 32, 3]  # the densest pixel opaque


def test_a_large_map_decodes_a_position_from_the_nearest_of_all_points():
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(150_000, 2))
    codes = rng.normal(size=(150_000, 3)).astype(np.float32)
    inverse = InverseProjector(xy, codes)
    assert inverse.triangulation is None  # a million points take a minute to triangulate
    code, how = inverse(tuple(xy[42]))
    assert how == "neighbours" and np.allclose(code, codes[42], atol=1e-4)


@pytest.fixture(scope="module")
def large_bundle(tmp_path_factory, synthetic):
    model, result = train_tiny(synthetic)
    out = tmp_path_factory.mktemp("large") / "large"
    return write_bundle(out, model, synthetic.test_images, synthetic.test_labels, bundle_meta(synthetic, result),
                        large=True)


def test_a_large_bundle_maps_its_images_instead_of_reading_them(large_bundle, synthetic):
    config = json.loads((large_bundle / CONFIG).read_text())
    assert IMAGES_MAPPED in config["files"] and IMAGES not in config["files"]
    bundle = load_bundle(large_bundle)
    assert isinstance(bundle.images, np.memmap) and not bundle.images.flags.writeable
    assert np.array_equal(bundle.images, synthetic.test_images)


def _rewrite(path, data: bytes) -> None:
    config = json.loads((path / CONFIG).read_text())
    (path / IMAGES_MAPPED).write_bytes(data)
    config["files"][IMAGES_MAPPED] = {"bytes": len(data), "sha256": sha256_of(path / IMAGES_MAPPED)}
    (path / CONFIG).write_text(json.dumps(config))


def test_mapped_images_are_checked_before_they_are_mapped(large_bundle, tmp_path):
    import io
    import shutil

    bundle = shutil.copytree(large_bundle, tmp_path / "copy")
    raw = bytearray((bundle / IMAGES_MAPPED).read_bytes())
    raw[-1] ^= 0xFF
    (bundle / IMAGES_MAPPED).write_bytes(bytes(raw))  # same size, other bytes
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(bundle)
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((128, 1, 28, 28), np.float32))
    _rewrite(bundle, buffer.getvalue())
    with pytest.raises(BundleError, match="expected 4-D uint8"):
        load_bundle(bundle)
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((128, 1, 28, 28), np.uint8))
    _rewrite(bundle, buffer.getvalue()[:-28])
    with pytest.raises(BundleError, match="does not fit"):
        load_bundle(bundle)
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _rewrite(bundle, buffer.getvalue())
    with pytest.raises(BundleError, match=IMAGES_MAPPED):
        load_bundle(bundle)


def test_coloured_by_a_value_each_pixel_takes_the_mean_value_of_its_points():
    xy = np.array([[0.1, 0.5], [0.2, 0.5], [0.9, 0.5]])
    lut = np.array([[0, 0, 0], [128, 128, 128], [255, 255, 255]])
    rgba = value_density(xy, np.array([0.5, 1.5, 5.0]), 0.0, 2.0, lut, (0.0, 1.0, 0.0, 1.0), 2, 1)
    assert tuple(rgba[0, 0, :3]) == (128, 128, 128)  # the mean, 1, is half-way up the clipped scale
    assert tuple(rgba[0, 1, :3]) == (255, 255, 255)  # 5 clipped to the top
    assert rgba[0, 0, 3] > rgba[0, 1, 3]  # two points against one
