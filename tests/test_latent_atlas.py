"""The decoded atlas's grid (vae/latent/atlas.py): its size on screen, its cells' codes, the cells far from data."""

import numpy as np
import pytest

from vae.latent.atlas import MAX_SIDE, MIN_CELL_PX, atlas_grid, cell_centres, data_spacing, grid_for
from vae.latent.placement import InverseProjector


def test_cells_are_square_on_screen_at_least_28_pixels_and_at_most_32_along_an_axis():
    assert grid_for(900, 500) == (32, 17)  # 900 // 28, 500 // 28
    assert grid_for(722, 400) == (25, 14)  # the 1400×1000 window's map: cells of 28.9 × 28.6 px
    assert grid_for(2000, 1500) == (MAX_SIDE, 24)  # cells of 62.5 px, so that 2000 px holds 32 of them
    assert grid_for(40, 40) == (2, 2)
    for width, height in ((722, 400), (1200, 700), (400, 900), (3000, 1000)):
        columns, rows = grid_for(width, height)
        cell_width, cell_height = width / columns, height / rows
        assert min(cell_width, cell_height) >= MIN_CELL_PX and max(columns, rows) <= MAX_SIDE
        assert max(cell_width, cell_height) / min(cell_width, cell_height) < 1.1, (width, height)


def test_cells_run_row_by_row_from_the_top_left():
    centres = cell_centres((0.0, 6.0, 0.0, 2.0), 3, 2)
    assert centres.tolist() == [[1.0, 1.5], [3.0, 1.5], [5.0, 1.5], [1.0, 0.5], [3.0, 0.5], [5.0, 0.5]]


def test_a_cell_code_is_the_one_a_click_there_decodes():
    rng = np.random.default_rng(0)
    xy, codes = rng.normal(size=(400, 2)), rng.normal(size=(400, 5)).astype(np.float32)
    inverse = InverseProjector(xy, codes)
    grid = atlas_grid(inverse, (-4.0, 4.0, -4.0, 4.0), 9, 7, data_spacing(inverse.tree))
    for centre, code in zip(grid.centres, grid.codes, strict=True):  # inside the hull and outside it
        assert code == pytest.approx(inverse(tuple(centre))[0], abs=1e-5)


def test_the_cells_triangles_are_found_with_the_projectors_own_transforms():
    """SciPy's find_simplex, which `codes_at` calls, would compute its own in a per-triangle loop: seconds in
    the app's server, whose other threads take the GIL between triangles (vae/latent/placement.py)."""
    xy = np.random.default_rng(2).normal(size=(300, 2))
    inverse = InverseProjector(xy, xy.astype(np.float32))
    assert inverse.triangulation.transform is inverse.transforms


def test_a_cell_in_a_gap_between_classes_is_far_from_data_and_one_inside_a_dense_class_is_not():
    rng = np.random.default_rng(1)
    # Two dense classes on the map, 10 apart: a view over both puts cells inside each and in the gap.
    xy = np.concatenate([rng.normal((0, 0), 0.5, (2000, 2)), rng.normal((10, 0), 0.5, (2000, 2))])
    inverse = InverseProjector(xy, rng.normal(size=(len(xy), 4)).astype(np.float32))
    grid = atlas_grid(inverse, (-1.0, 11.0, -6.0, 6.0), 12, 12, data_spacing(inverse.tree))
    cell = lambda x, y: int(np.argmin(np.linalg.norm(grid.centres - (x, y), axis=1)))  # noqa: E731
    assert not grid.far[cell(0, 0)] and not grid.far[cell(10, 0)]  # the classes' middles
    assert grid.far[cell(5, 0)] and grid.far[cell(5, 5)]  # the gap, and a corner of the view
