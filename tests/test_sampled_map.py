"""The map of many codes: UMAP of a sample, the rest placed by their nearest sample codes."""

import numpy as np
import pytest

from vae.latent.large_map import nearest_in_sample, place_by_neighbours, sample_indices, sampled_umap_2d
from vae.latent.placement import ForwardProjector


def test_nearest_in_sample_matches_a_full_sort():
    rng = np.random.default_rng(0)
    sample, codes = rng.normal(size=(300, 6)).astype(np.float32), rng.normal(size=(50, 6)).astype(np.float32)
    index, distances = nearest_in_sample(codes, sample, k=4)
    full = np.linalg.norm(codes[:, None, :] - sample[None], axis=2)  # (50, 300)
    np.testing.assert_array_equal(index, np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(distances, np.sort(full, axis=1)[:, :4], rtol=1e-5)


def test_a_sample_code_lands_exactly_on_its_own_position():
    rng = np.random.default_rng(1)
    sample = rng.normal(size=(500, 16)).astype(np.float32) * 3 + 10  # off-centre: the search centres it
    xy = rng.normal(size=(500, 2)).astype(np.float32)
    np.testing.assert_array_equal(place_by_neighbours(sample, sample, xy, k=10), xy)


def test_placement_starts_at_the_nearest_and_pulls_toward_the_inverse_distance_mean():
    sample = np.array([[0, 0], [10, 0], [0, 10]], dtype=np.float32)
    xy = np.array([[0, 0], [1, 0], [0, 1]], dtype=np.float32)
    codes = np.array([[4, 0], [1, 0], [0, 9]], dtype=np.float32)
    # At distances 4 and 6: weights 1/4 and 1/6, i.e. 0.6 and 0.4. At 1 and 9: 0.9 and 0.1.
    means = np.array([[0.4, 0], [0.1, 0], [0, 0.9]])
    np.testing.assert_allclose(place_by_neighbours(codes, sample, xy, k=2, pull=1), means, atol=1e-6)
    nearest = xy[[0, 0, 2]]
    np.testing.assert_allclose(place_by_neighbours(codes, sample, xy, k=2, pull=0.25),
                               nearest + 0.25 * (means - nearest), atol=1e-6)


def test_the_mean_is_where_the_explorer_places_a_code():
    rng = np.random.default_rng(3)
    sample, codes = rng.normal(size=(400, 8)).astype(np.float32), rng.normal(size=(60, 8)).astype(np.float32)
    xy = rng.normal(size=(400, 2)).astype(np.float32)
    np.testing.assert_allclose(place_by_neighbours(codes, sample, xy, k=8, pull=1),
                               ForwardProjector(sample, xy, k=8).place_many(codes), atol=1e-5)


@pytest.fixture(scope="module")
def blobs():
    """Three well-apart clusters of 8-D codes, 600 codes each."""
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(3, 8)) * 20
    labels = np.repeat(np.arange(3), 600)
    return (centres[labels] + rng.normal(size=(len(labels), 8))).astype(np.float32), labels


def test_sampled_map_has_one_finite_row_per_code_and_keeps_clusters_apart(blobs):
    codes, labels = blobs
    xy = sampled_umap_2d(codes, sample_size=300, seed=0, sampled_above=0)["xy"]
    assert xy.shape == (len(codes), 2) and np.isfinite(xy).all()
    sample = sample_indices(len(codes), 300, seed=0)
    placed = np.setdiff1d(np.arange(len(codes)), sample)
    # Each placed code is nearer its own cluster's sample positions than any other cluster's.
    centres = np.stack([xy[sample][labels[sample] == c].mean(axis=0) for c in range(3)])  # (3, 2)
    nearest = np.argmin(np.linalg.norm(xy[placed, None, :] - centres[None], axis=2), axis=1)
    np.testing.assert_array_equal(nearest, labels[placed])


def test_few_codes_get_a_plain_umap_of_them_all(blobs):
    codes, _ = blobs
    from vae.latent.projection import umap_2d

    np.testing.assert_array_equal(sampled_umap_2d(codes[:400], sample_size=300, sampled_above=500)["xy"],
                                  umap_2d(codes[:400])["xy"])
