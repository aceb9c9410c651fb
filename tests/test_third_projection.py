"""The third projection (t-SNE, vae/latent/tsne.py) and the 3-D view's third component (vae/latent/three_d.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy.spatial import cKDTree
from sklearn.manifold import trustworthiness

from vae.diagnostics import cache
from vae.latent import tsne
from vae.latent.projection import pca_2d
from vae.latent.three_d import has_third_component, points_3d, third_principal_axis


def three_clusters(per_cluster: int = 120, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Three clusters of different sizes, spreads and distances apart (nothing symmetric), and their labels."""
    rng = np.random.default_rng(3)
    centres = np.zeros((3, dim))
    centres[1, 0], centres[2, :3] = 9.0, (2.0, 14.0, -5.0)
    sizes, spreads = (per_cluster, per_cluster // 2, per_cluster + 37), (0.5, 1.2, 0.8)
    codes = np.concatenate([rng.normal(c, s, size=(n, dim)) for c, n, s in zip(centres, sizes, spreads, strict=True)])
    return codes.astype(np.float32), np.repeat(np.arange(3), sizes)


def test_tsne_keeps_three_separate_clusters_apart_and_each_codes_neighbours_near():
    codes, labels = three_clusters()
    steps = []
    xy = tsne.tsne_2d(codes, progress=steps.append)["xy"]
    assert xy.shape == (len(codes), 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    _, nearest = cKDTree(xy).query(xy, k=11)  # each point and its 10 nearest on the map
    assert (labels[nearest[:, 1:]] == labels[:, None]).mean() > 0.99  # neighbours on the map share the cluster
    assert trustworthiness(codes, xy, n_neighbors=10) > 0.9
    assert steps == sorted(steps) and steps[-1] == tsne.STEPS  # progress counts up to the end


def test_tsne_above_its_sample_size_fits_a_sample_and_places_the_rest_beside_their_cluster():
    codes, labels = three_clusters()
    xy = tsne.tsne_2d(codes, sample_size=150)["xy"]
    centroids = np.array([xy[labels == c].mean(axis=0) for c in range(3)])
    nearest_centroid = np.argmin(((xy[:, None] - centroids) ** 2).sum(axis=2), axis=1)
    assert (nearest_centroid == labels).mean() > 0.98


def test_a_cancelled_tsne_stops_during_the_fit():
    codes, _ = three_clusters()
    steps = []
    with pytest.raises(tsne.Stopped):
        tsne.tsne_2d(codes, progress=steps.append, stop=lambda: len(steps) >= 2)
    assert len(steps) == 2


@pytest.fixture()
def bundle_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_VAR, str(tmp_path / "cache"))
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "config.json").write_text('{"files": {"latents.npz": "0123"}}')
    return folder


def test_the_map_is_kept_in_the_user_cache_and_read_back_only_for_its_bundle(bundle_dir):
    xy = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    file = tsne.write_map(bundle_dir, {"xy": xy})
    assert file.parent.name == tsne.KIND and oct(file.stat().st_mode & 0o777) == "0o600"
    assert np.array_equal(tsne.read_map(bundle_dir, 40)["xy"], xy)
    assert tsne.read_map(bundle_dir, 41) is None  # a map of other codes
    (bundle_dir / "config.json").write_text('{"files": {"latents.npz": "4567"}}')  # the bundle was rewritten
    assert tsne.read_map(bundle_dir, 40) is None


def test_a_cached_map_that_others_may_write_or_that_holds_no_finite_positions_is_ignored(bundle_dir):
    xy = np.zeros((10, 2), np.float32)
    xy[3, 1] = np.nan
    assert tsne.read_map(bundle_dir, 10) is None  # none yet
    tsne.write_map(bundle_dir, {"xy": xy})
    assert tsne.read_map(bundle_dir, 10) is None
    file = tsne.write_map(bundle_dir, {"xy": np.zeros((10, 2), np.float32)})
    os.chmod(file, 0o622)
    assert tsne.read_map(bundle_dir, 10) is None


def asymmetric_cloud(n: int = 3000) -> np.ndarray:
    """A skewed, rotated, off-centre cloud with distinct variances along every axis."""
    rng = np.random.default_rng(7)
    raw = np.column_stack([rng.exponential(3.0, n), rng.normal(0, 2.0, n), rng.gamma(2.0, 0.6, n),
                           rng.normal(0, 0.7, n), rng.normal(0, 0.2, n)])
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    return (raw @ rotation.T + np.array([4.0, -1.0, 0.5, 2.0, -3.0])).astype(np.float32)


def test_the_third_pca_coordinate_is_numpys_third_principal_component_up_to_sign():
    codes = asymmetric_cloud()
    pca = pca_2d(codes)
    centred = codes.astype(np.float64) - codes.astype(np.float64).mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[2]  # numpy's third component
    drawn = np.arange(0, len(codes), 3)
    points = points_3d("pca", pca["xy"], codes, drawn)
    assert points.shape == (len(drawn), 3)
    assert np.array_equal(points[:, :2], pca["xy"][drawn])  # the 2-D map's own two coordinates
    sign = np.sign(points[0, 2] * expected[drawn][0])
    assert np.allclose(points[:, 2], sign * expected[drawn], atol=1e-3)


def test_the_third_axis_is_the_same_when_the_covariance_is_summed_in_blocks(monkeypatch):
    codes = asymmetric_cloud()
    mean, whole = third_principal_axis(codes)
    monkeypatch.setattr("vae.latent.three_d.COVARIANCE_BLOCK", 7)
    assert np.allclose(third_principal_axis(codes)[1], whole, atol=1e-9)
    assert np.allclose(mean, codes.mean(axis=0), atol=1e-5)


def test_which_maps_have_a_third_component():
    assert has_third_component("pca", 16) and has_third_component("latent", 3)
    assert not has_third_component("pca", 2) and not has_third_component("latent", 2)
    assert not has_third_component("umap", 16) and not has_third_component("tsne", 16)
    codes = asymmetric_cloud(50)
    assert np.array_equal(points_3d("latent", codes[:, :2], codes, np.arange(5)), codes[:5, :3])
    with pytest.raises(ValueError, match="no third component"):
        points_3d("tsne", codes[:, :2], codes, np.arange(5))
