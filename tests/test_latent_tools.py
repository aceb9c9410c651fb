"""Explorer helpers: inverse projection, forward placement, neighbours, pixels."""

import numpy as np
import pytest
import torch
from scipy.spatial import Delaunay

from vae.latent.attributes import order_dimensions, slider_rows
from vae.latent.placement import (
    ForwardProjector,
    InverseProjector,
    barycentric_transforms,
    nearest_neighbours,
    neighbours_with_distances,
)
from vae.latent.projection import pca_2d
from vae.latent.selection import display_subset, points_in_box, points_in_polygon
from vae.media import to_pixels
from vae.models import MLPConfig, build_model
from vae.models.inference import decode


@pytest.fixture()
def codes_and_map():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 6)).astype(np.float32)
    return codes, pca_2d(codes)


def test_inverse_projection_returns_the_code_at_a_map_point(codes_and_map):
    codes, pca = codes_and_map
    inverse = InverseProjector(pca["xy"], codes)
    for i in (0, 17, 250):
        code, how = inverse(tuple(pca["xy"][i]))
        assert how == "barycentric" and np.allclose(code, codes[i], atol=1e-4)


def test_inverse_projection_interpolates_inside_a_triangle(codes_and_map):
    codes, pca = codes_and_map
    inverse = InverseProjector(pca["xy"], codes)
    simplex = inverse.triangulation.simplices[0]
    centre = pca["xy"][simplex].mean(axis=0)
    code, how = inverse(tuple(centre))
    assert how == "barycentric" and np.allclose(code, codes[simplex].mean(axis=0), atol=1e-4)


def test_the_barycentric_transforms_and_the_triangle_found_are_scipys(codes_and_map):
    codes, pca = codes_and_map
    triangulation = Delaunay(pca["xy"])
    ours = barycentric_transforms(pca["xy"], triangulation.simplices)
    assert np.allclose(ours, triangulation.transform, equal_nan=True)
    inverse = InverseProjector(pca["xy"], codes)
    low, high = pca["xy"].min(axis=0), pca["xy"].max(axis=0)
    for point in np.random.default_rng(2).uniform(low, high, size=(200, 2)):  # some outside the hull
        simplex, weights = inverse._locate(point)
        assert simplex == int(triangulation.find_simplex(point))  # random points: none on an edge
        if simplex >= 0:
            full = np.append(weights, 1 - weights.sum())
            assert (full >= 0).all() and np.allclose(full @ pca["xy"][triangulation.simplices[simplex]], point)


def test_a_flat_triangle_gets_no_transform():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    transforms = barycentric_transforms(points, np.array([[0, 1, 2], [0, 1, 3]]))
    assert np.isnan(transforms[0, :2]).all() and np.isfinite(transforms[1]).all()


def test_inverse_projection_outside_the_hull_uses_neighbours(codes_and_map):
    codes, pca = codes_and_map
    code, how = InverseProjector(pca["xy"], codes)((1e3, 1e3))
    assert how == "neighbours" and code.shape == (6,) and np.isfinite(code).all()


def test_forward_projection_is_exact_for_pca_and_the_2d_latent(codes_and_map):
    codes, pca = codes_and_map
    forward = ForwardProjector(codes, pca["xy"], pca["components"], pca["mean"])
    assert np.allclose(forward(codes[3]), pca["xy"][3], atol=1e-4)
    latent = ForwardProjector(codes[:, :2], codes[:, :2])
    assert np.allclose(latent(codes[5, :2]), codes[5, :2])


def test_forward_projection_for_a_nonlinear_map_lands_near_the_code(codes_and_map):
    codes, _ = codes_and_map
    xy = np.random.default_rng(1).normal(size=(500, 2))
    forward = ForwardProjector(codes, xy)
    assert np.allclose(forward(codes[9]), xy[9], atol=1e-3)


def test_a_code_mixed_from_a_triangles_corners_is_placed_at_the_same_mix_of_their_places():
    # One triangle, worked by hand: 0.2, 0.5, 0.3 of the corners' codes lies at 0.2, 0.5, 0.3 of their places.
    xy = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 3.0]])
    codes = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, -1.0], [2.0, 2.0, 0.5]], dtype=np.float32)
    inverse = InverseProjector(xy, codes)
    forward = ForwardProjector(codes, xy, surface=inverse.surface(), tolerance=1e-3)
    mixed = 0.2 * codes[0] + 0.5 * codes[1] + 0.3 * codes[2]  # (0.8, 2.1, 0.05)
    assert np.allclose(forward(mixed), [2.3, 1.4], atol=1e-6)  # 0.5*(4, 1) + 0.3*(1, 3)
    # A code off the triangle's plane by more than the tolerance is placed by its neighbours instead.
    assert inverse.surface().place(mixed + np.array([0.0, 0.0, 0.1]), 1e-3) is None


def test_a_code_decoded_from_a_map_position_goes_back_to_that_position():
    """Three clusters on a nonlinear map: a position between them decodes to a mix of codes whose latent
    neighbours lie in one cluster; placed by neighbours it jumped there, placed on the surface it stays."""
    rng = np.random.default_rng(3)
    centres_xy = np.array([[0.0, 0.0], [10.0, 1.0], [4.0, 8.0]])
    centres_code = rng.normal(scale=3.0, size=(3, 8))
    labels = rng.integers(0, 3, size=600)
    xy = centres_xy[labels] + rng.normal(scale=0.8, size=(600, 2))
    codes = (centres_code[labels] + rng.normal(scale=0.3, size=(600, 8))).astype(np.float32)
    inverse = InverseProjector(xy, codes)
    tolerance = 0.01 * np.sqrt(8)  # codes kept to two decimals, as the explorer keeps them
    on_surface = ForwardProjector(codes, xy, surface=inverse.surface(), tolerance=tolerance)
    by_neighbours = ForwardProjector(codes, xy)
    span = np.ptp(xy, axis=0).max()
    for place in ([5.0, 0.5], [2.0, 4.0], [7.0, 4.5], [4.5, 3.0]):
        code, how = inverse(place)
        assert how == "barycentric"
        kept = np.round(code, 2)
        assert np.linalg.norm(on_surface(kept) - place) < 0.002 * span, place
        assert np.linalg.norm(by_neighbours(kept) - place) > 0.05 * span, place  # the defect this fixes
    # A map point's own code stays on its point.
    assert np.linalg.norm(on_surface(np.round(codes[17], 2)) - xy[17]) < 0.002 * span


def test_neighbours_by_cosine_follow_the_direction_not_the_length():
    codes = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]])
    query = np.array([2.0, 0.2])
    # Worked by hand: |q| = 2.00998; Euclidean 1.0198, 2.6907, 2.9732, 3.0067; cosine 1 − q·c/(|q||c|):
    # 0.00496, 0.90050, 0.22604, 1.99504.
    order, distances = neighbours_with_distances(codes, query, k=4)
    assert order.tolist() == [0, 1, 2, 3] and np.allclose(distances, [1.0198, 2.6907, 2.9732, 3.0067], atol=1e-4)
    order, distances = neighbours_with_distances(codes, query, k=3, distance="cosine")
    assert order.tolist() == [0, 2, 1] and np.allclose(distances, [0.00496, 0.22604, 0.90050], atol=1e-5)
    with pytest.raises(ValueError, match="euclidean, cosine"):
        neighbours_with_distances(codes, query, distance="manhattan")


def test_nearest_neighbours_excludes_the_query_and_sorts():
    codes = np.array([[0.0], [1.0], [3.0], [0.5], [10.0]])
    assert nearest_neighbours(codes, codes[0], k=3, exclude=0).tolist() == [3, 1, 2]


def test_dimensions_ordered_by_kl_with_collapsed_ones_apart():
    informative, collapsed = order_dimensions(np.array([0.5, 0.001, 3.0, 0.0, 1.0]))
    assert informative == [2, 4, 0] and collapsed == [1, 3]


def test_slider_rows_name_each_dimension_and_its_kl_in_nats_unused_ones_last():
    rows = slider_rows(np.array([0.5, 0.001, 3.0, 0.0, 1.0]))
    assert [r["label"] for r in rows] == ["z2 · 3.00 nats", "z4 · 1.00 nats", "z0 · 0.50 nats", "z1 · unused",
                                          "z3 · unused"]
    assert [r["kl"] for r in rows] == [3.0, 1.0, 0.5, 0.001, 0.0]
    assert [r["collapsed"] for r in rows] == [False, False, False, True, True]
    assert "KL to the prior" in rows[0]["hint"] and "3.00 nats" in rows[0]["hint"]
    assert "ignores" in rows[3]["hint"]


def test_pixels_are_upscaled_nearest_neighbour():
    images = np.arange(4, dtype=np.uint8).reshape(1, 1, 2, 2)
    assert to_pixels(images, 2)[0].tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
    colour = to_pixels(torch.ones(2, 3, 4, 4), 1)
    assert colour.shape == (2, 4, 4, 3) and colour.max() == 255


def test_decode_gives_display_pixels():
    model = build_model(MLPConfig(latent_dim=3, hidden=(8,))).eval()
    pixels = decode(model, np.zeros(3), scale=4)
    assert pixels.shape == (1, 112, 112) and pixels.dtype == np.uint8


def test_pca_2d_explains_the_dominant_axis():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(400, 3)) * np.array([10.0, 1.0, 0.1])
    pca = pca_2d(codes)
    assert pca["xy"][:, 0].var() > 50 * pca["xy"][:, 1].var()
    assert np.allclose(np.abs(pca["components"][0]), [1, 0, 0], atol=0.05)


def test_live_map_alignment_undoes_a_rotation_and_reflection():
    from vae.training.live_map import align

    rng = np.random.default_rng(0)
    previous = rng.normal(size=(200, 2))
    angle = 1.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    current = (previous @ rotation) * np.array([1, -1]) + 5
    assert np.allclose(align(previous, current), previous, atol=1e-6)
    assert align(None, current) is current


def test_display_subset_is_everything_below_the_limit_and_a_fixed_sample_above():
    assert np.array_equal(display_subset(500, 1000), np.arange(500))
    sample = display_subset(70_000, 20_000)
    assert len(sample) == 20_000 and len(np.unique(sample)) == 20_000 and np.all(np.diff(sample) > 0)
    assert np.array_equal(sample, display_subset(70_000, 20_000))  # the same picture on every rerun
    missing = int(np.setdiff1d(np.arange(70_000), sample)[0])
    assert missing in display_subset(70_000, 20_000, keep=missing)


def test_points_in_a_box_and_in_a_concave_polygon():
    grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), axis=-1).reshape(-1, 2)  # (100, 2)
    assert len(points_in_box(grid, (2.5, 0.5), (0.5, 2.5))) == 4
    # An L shape: the 3x3 block [1..3]^2 minus its top-right 2x2 corner [2..3]x[2..3].
    lx, ly = [0.5, 3.5, 3.5, 1.5, 1.5, 0.5], [0.5, 0.5, 1.5, 1.5, 3.5, 3.5]
    inside = {tuple(p) for p in grid[points_in_polygon(grid, lx, ly)]}
    assert inside == {(1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (1.0, 2.0), (1.0, 3.0)}
