"""Latent planes (vae/latent/plane.py): the grid's codes, its axes, the codes placed on it, the picture and NPY."""

import io

import numpy as np
import pytest
import torch

from vae.latent.plane import (
    MAX_PICTURE_SIDE,
    Plane,
    centroid_axis,
    codes_npy,
    export_scales,
    latent_axis,
    max_side,
    picture,
    principal_axis,
    prior_offsets,
    sigma_offsets,
    tile,
)
from vae.models import MLPConfig, build_model
from vae.models.inference import decode

# norm.ppf(0.05), norm.ppf(0.5), norm.ppf(0.95), worked out by hand from the normal table.
PPF_05 = -1.6448536269514729


def test_three_prior_offsets_are_the_5_50_95_percent_quantiles():
    assert prior_offsets(3) == pytest.approx([PPF_05, 0.0, -PPF_05], abs=1e-12)
    # Five: 5 %, 27.5 %, 50 %, 72.5 %, 95 %; ppf(0.275) = -0.5977.
    assert prior_offsets(5) == pytest.approx([PPF_05, -0.59776, 0.0, 0.59776, -PPF_05], abs=1e-4)
    with pytest.raises(ValueError):
        prior_offsets(1)
    with pytest.raises(ValueError):
        prior_offsets(33)


def test_grid_rows_run_from_the_highest_second_axis_down_around_an_asymmetric_origin():
    origin = np.array([1.0, -2.0, 0.5])
    plane = Plane(origin, np.stack([latent_axis(2, 3).vector, latent_axis(0, 3).vector]),
                  across=np.array([-1.0, 0.0, 1.0]), up=np.array([10.0, 20.0, 30.0]))
    codes = plane.codes()
    assert codes.shape == (3, 3, 3) and codes.dtype == np.float32
    # Top-left: the first axis (z2) at its lowest, the second (z0) at its highest; z1 stays at the origin.
    assert codes[0, 0] == pytest.approx([31.0, -2.0, -0.5])
    assert codes[0, 2] == pytest.approx([31.0, -2.0, 1.5])
    assert codes[2, 0] == pytest.approx([11.0, -2.0, -0.5])
    assert codes[1, 1] == pytest.approx([21.0, -2.0, 0.5])


def test_a_code_is_placed_at_its_coefficients_along_oblique_axes():
    u, v = np.array([1.0, 1.0, 0.0]), np.array([0.0, 2.0, 0.0])  # neither unit nor orthogonal
    origin = np.array([0.5, 0.5, 3.0])
    plane = Plane(origin, np.stack([u, v]), across=np.linspace(-1, 1, 3), up=np.linspace(-1, 1, 3))
    code = origin + 2 * u - 0.5 * v + np.array([0.0, 0.0, 7.0])  # off the plane along z2, which it ignores
    assert plane.coordinates(code[None])[0] == pytest.approx([2.0, -0.5])
    # The grid's own codes go back to their offsets: column c, row r at (across[c], up[K-1-r]).
    assert plane.coordinates(plane.codes()[0, 2][None])[0] == pytest.approx([1.0, 1.0])


def test_parallel_axes_span_no_plane():
    with pytest.raises(ValueError, match="parallel"):
        Plane(np.zeros(2), np.array([[1.0, 0.0], [-2.0, 0.0]]), np.zeros(2), np.zeros(2))


def test_sigma_offsets_use_the_spread_of_the_codes_along_the_axis():
    codes = np.array([[1.0, 5.0], [3.0, 5.0], [1.0, -5.0], [3.0, -5.0]])
    # Projections on the diagonal: 6, 8, -4, -2 over sqrt(2); their deviations ±4, ±6 over sqrt(2): σ² = 26 / 2.
    direction = np.array([1.0, 1.0]) / np.sqrt(2)
    assert sigma_offsets(codes, direction, 3, 2.0) == pytest.approx([-2 * np.sqrt(13), 0.0, 2 * np.sqrt(13)])
    assert sigma_offsets(codes, np.array([1.0, 0.0]), 3, 1.0) == pytest.approx([-1.0, 0.0, 1.0])


def test_axes_latent_principal_and_between_class_centroids():
    assert latent_axis(1, 3).vector == pytest.approx([0.0, 1.0, 0.0]) and latent_axis(1, 3).name == "z1"
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 3)) * np.array([0.1, 3.0, 1.0])
    first = principal_axis(codes, 0)
    assert np.abs(first.vector) == pytest.approx([0.0, 1.0, 0.0], abs=0.02) and first.vector[1] > 0
    assert first.name == "principal direction 1"
    codes = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 4.0], [4.0, 4.0]])  # centroids (1, 0) and (4, 4)
    axis = centroid_axis(codes, np.array([0, 1]), np.array([2, 3]), "shirt → shoe")
    assert axis.vector == pytest.approx([0.6, 0.8]) and axis.name == "shirt → shoe"
    with pytest.raises(ValueError, match="same mean code"):
        centroid_axis(codes, np.array([2]), np.array([3]), "shoe → shoe")


def test_tiling_puts_each_cell_in_its_place_without_gaps():
    cells = np.stack([np.full((2, 3), 10 * i, np.uint8) for i in range(4)])  # 4 cells, 2×3 each
    grid = tile(cells, 2)
    assert grid.shape == (4, 6)
    assert (grid[:2, :3] == 0).all() and (grid[:2, 3:] == 10).all()
    assert (grid[2:, :3] == 20).all() and (grid[2:, 3:] == 30).all()
    colour = tile(np.arange(4 * 2 * 2 * 3, dtype=np.uint8).reshape(4, 2, 2, 3), 2)
    assert colour.shape == (4, 4, 3) and (colour[2:, 2:] == np.arange(36, 48).reshape(2, 2, 3)).all()
    wide = tile(np.stack([np.full((2, 3), i, np.uint8) for i in range(6)]), 2, 3)  # the atlas's: 2 rows, 3 columns
    assert wide.shape == (4, 9) and (wide[:2, 6:] == 2).all() and (wide[2:, :3] == 3).all()


def test_the_picture_has_the_expected_size_and_each_cell_is_its_codes_decode():
    torch.manual_seed(0)
    model = build_model(MLPConfig(latent_dim=2, hidden=(16,))).eval()
    plane = Plane(np.zeros(2), np.eye(2), prior_offsets(3), prior_offsets(3))
    codes = plane.codes()
    shown = picture(model, codes, scale=2)
    assert shown.shape == (3 * 28 * 2, 3 * 28 * 2)
    for r, c in ((0, 0), (0, 2), (2, 1)):
        cell = shown[r * 56:(r + 1) * 56, c * 56:(c + 1) * 56]
        assert (cell == decode(model, codes[r, c], 2)[0]).all()
    assert codes[0, 2] == pytest.approx([-PPF_05, -PPF_05])  # top right: both axes at their 95 % quantile


def test_codes_npy_reads_back_without_pickles_and_export_scales_are_bounded():
    codes = np.arange(2 * 2 * 3, dtype=np.float64).reshape(2, 2, 3)
    back = np.load(io.BytesIO(codes_npy(codes)), allow_pickle=False)
    assert back.dtype == np.float32 and (back == codes).all()
    assert export_scales(15, 28) == [1, 2, 4, 8]
    assert export_scales(32, 64) == [1, 2] and 32 * 64 * 2 <= MAX_PICTURE_SIDE
    assert max_side(28) == 32 and max_side(256) == 16 and max_side(4000) == 2  # the grid shrinks for large images
