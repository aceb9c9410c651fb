"""The fast UMAP path: exact neighbours, umap-learn's quality kept, kernels cached, the worker process."""

import io
import json
import os
import signal

import numpy as np
import pytest
from scipy.spatial import cKDTree
from sklearn.manifold import trustworthiness

from vae.bundle import load_bundle
from vae.latent.projection import exact_knn, umap_2d
from vae.latent.projection_worker import ProjectionFailed, ProjectionWorker, serve

from .conftest import ROOT

SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
QUALITY_SAMPLE = 2000
QUALITY_MARGIN = 0.01  # issue #16: trustworthiness (k=10) within 0.01 of umap-learn's default fit


def test_exact_knn_finds_what_a_kd_tree_finds():
    codes = np.random.default_rng(0).normal(size=(700, 16)).astype(np.float32) * 3 + 5  # off-centre
    indices, distances, index = exact_knn(codes, k=15)
    tree_distances, tree_indices = cKDTree(codes.astype(np.float64)).query(codes.astype(np.float64), k=15)
    assert index is None and indices.shape == (700, 15) and indices.dtype == np.int64
    assert np.array_equal(indices, tree_indices)
    assert np.allclose(distances, tree_distances, atol=1e-5) and distances.dtype == np.float32
    assert (indices[:, 0] == np.arange(700)).all() and (distances[:, 0] == 0).all()  # self first


@pytest.mark.filterwarnings("ignore:n_jobs value")
def test_the_fast_umap_keeps_umap_learns_trustworthiness():
    import umap

    codes = np.load(SHIPPED / "latents.npz")["mu"]
    sample = codes[np.random.default_rng(0).choice(len(codes), QUALITY_SAMPLE, replace=False)]
    fast = umap_2d(sample, seed=0)["xy"]
    default = umap.UMAP(random_state=0).fit_transform(sample)
    fast_score = trustworthiness(sample, fast, n_neighbors=10)
    default_score = trustworthiness(sample, default, n_neighbors=10)
    assert fast.shape == (QUALITY_SAMPLE, 2) and np.isfinite(fast).all()
    assert fast_score >= default_score - QUALITY_MARGIN, (fast_score, default_score)


def test_umaps_kernels_are_cached_on_disk_but_not_their_parallel_twins():
    import umap.layouts

    umap_2d(np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32), n_epochs=5)
    serial = umap.layouts._nb_optimize_layout_euclidean_single_epoch
    parallel = umap.layouts._nb_optimize_layout_euclidean_single_epoch_parallel
    assert type(serial._cache).__name__ != "NullCache"  # what a first fit spent its time compiling
    assert type(parallel._cache).__name__ == "NullCache"  # same code: it would share the serial's entry


def test_the_worker_adds_the_umap_map_and_survives_a_cancel(tiny_bundle):
    assert load_bundle(tiny_bundle).projections.keys() == {"pca"}
    worker = ProjectionWorker.start()
    try:
        os.kill(worker.proc.pid, signal.SIGTERM)  # Cancel signals the job's whole process group
        os.kill(worker.proc.pid, signal.SIGINT)
        assert worker.wait_until_warm() > 0
        timings = worker.project(tiny_bundle, seed=0)
    finally:
        worker.close()
    bundle = load_bundle(tiny_bundle)
    assert timings["seconds"] > 0 and timings["cpu_s"] > 0 and bundle.projections.keys() == {"pca", "umap"}
    assert bundle.projections["umap"]["xy"].shape == (len(bundle.mu), 2)


def test_a_worker_that_dies_is_reported_not_waited_for(tmp_path):
    worker = ProjectionWorker.start()
    os.kill(worker.proc.pid, signal.SIGKILL)  # the page's Force stop
    try:
        with pytest.raises(ProjectionFailed, match="worker ended"):
            worker.project(tmp_path, seed=0)
    finally:
        worker.close()


def test_the_worker_replies_with_the_reason_a_bundle_cannot_be_mapped(tmp_path):
    replies = io.StringIO()
    serve(io.StringIO(json.dumps({"bundle": str(tmp_path), "seed": 0}) + "\n"), replies)
    ready, reply = map(json.loads, replies.getvalue().splitlines())
    assert ready["ready"] > 0 and "no config.json" in reply["error"]


def test_the_worker_ends_quietly_when_no_bundle_comes():
    replies = io.StringIO()
    serve(io.StringIO(""), replies)
    assert list(json.loads(replies.getvalue())) == ["ready"]  # and no reply
