"""vae/diagnostics: per-image values, colour ranges, placements, prior holes, posterior clouds,
selections and their downloads, two bundles compared, the time-lapse."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch

from vae.bundle import BundleError, add_per_image, load_bundle
from vae.diagnostics import cache, colour, compare, prior, selection, timelapse
from vae.diagnostics.per_image import FIELDS, check_values, per_image_values
from vae.evaluation import evaluate
from vae.latent.placement import ForwardProjector
from vae.latent.projection import pca_2d
from vae.losses import kl_standard_normal, reconstruction_nll

from .conftest import train_tiny


@pytest.fixture(scope="module")
def tiny_model(synthetic):
    model, _ = train_tiny(synthetic)
    return model.eval()


# ---------------------------------------------------------------- per-image values

def test_per_image_values_average_to_the_evaluated_elbo(tiny_model, synthetic):
    values = per_image_values(tiny_model, synthetic.test_images)
    metrics = evaluate(tiny_model, synthetic.test_images)
    assert set(values) == set(FIELDS) and all(v.shape == (128,) for v in values.values())
    assert values["neg_elbo"].mean() == pytest.approx(metrics["neg_elbo"], rel=1e-5)
    assert values["kl"].mean() == pytest.approx(metrics["kl"], rel=1e-5)
    assert np.allclose(values["neg_elbo"], values["recon"] + values["kl"], rtol=1e-6)


def test_per_image_values_match_the_terms_computed_by_hand_for_one_image(tiny_model, synthetic):
    values = per_image_values(tiny_model, synthetic.test_images, seed=3)
    x = torch.from_numpy(synthetic.test_images[:1]).float() / 255
    with torch.no_grad():
        mu, logvar = tiny_model.encode(x)
        generator = torch.Generator().manual_seed(3)
        eps = torch.randn((128, mu.shape[1]), generator=generator)[:1]  # drawn for the whole batch
        z = mu + eps * torch.exp(0.5 * logvar)
        recon = reconstruction_nll(tiny_model.decode_logits(z), x).item()
        kl = kl_standard_normal(mu, logvar).item()
    assert values["recon"][0] == pytest.approx(recon, rel=1e-5)
    assert values["kl"][0] == pytest.approx(kl, rel=1e-5)
    assert values["mean_sigma"][0] == pytest.approx(torch.exp(0.5 * logvar).mean().item(), rel=1e-5)


def test_a_new_bundle_stores_per_image_values_listed_in_its_checksums(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    assert "per_image.npz" in bundle.config["files"]
    assert bundle.per_image["neg_elbo"].mean() == pytest.approx(
        per_image_values(bundle.model, bundle.images)["neg_elbo"].mean(), rel=1e-6)


def test_per_image_values_that_do_not_fit_are_refused(tiny_bundle):
    good = load_bundle(tiny_bundle).per_image
    add_per_image(tiny_bundle, {**good, "kl": np.full(128, np.nan, np.float32)})
    with pytest.raises(BundleError, match="'kl' holds NaN"):
        load_bundle(tiny_bundle)
    assert check_values({**good, "recon": good["recon"][:5]}, 128) == [
        "per_image.npz: 'recon' is float32[5], expected (128,) floats"]
    assert "array 'mean_sigma' is missing" in check_values({k: good[k] for k in FIELDS[:3]}, 128)[0]


def test_cache_is_keyed_by_the_bundle_fingerprint_and_survives_garbage(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_VAR, str(tmp_path / "cache"))
    values = {"neg_elbo": np.arange(3, dtype=np.float32)}
    assert cache.read_cached(tiny_bundle, "per_image", 10_000) is None
    file = cache.write_cached(tiny_bundle, "per_image", values)
    assert file.parent == tmp_path / "cache" / "per_image" and not list(tiny_bundle.glob("*cache*"))
    assert np.array_equal(cache.read_cached(tiny_bundle, "per_image", 10_000)["neg_elbo"], values["neg_elbo"])
    assert cache.read_cached(tiny_bundle, "per_image", 10) is None  # larger than allowed
    file.write_bytes(b"not an npz")
    assert cache.read_cached(tiny_bundle, "per_image", 10_000) is None
    stored = load_bundle(tiny_bundle).per_image
    add_per_image(tiny_bundle, {**stored, "kl": stored["kl"] + 1})  # a rewritten bundle: a new key
    assert cache.cache_file(tiny_bundle, "per_image") != file


def test_an_unwritable_cache_is_reported_not_raised(tiny_bundle, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv(cache.CACHE_VAR, str(blocker))
    assert cache.write_cached(tiny_bundle, "per_image", {"a": np.zeros(2)}) is None


# ---------------------------------------------------------------- colour

def test_colour_options_and_values():
    mu = np.arange(12, dtype=np.float32).reshape(4, 3)
    per_image = {name: np.full(4, i, np.float32) for i, name in enumerate(FIELDS)}
    assert colour.colour_options(3, False) == ["class", "z0", "z1", "z2"]
    assert colour.colour_options(2, True)[:5] == ["class", *FIELDS]
    assert np.array_equal(colour.colour_values("z1", mu, None), mu[:, 1])
    assert np.array_equal(colour.colour_values("kl", mu, per_image), per_image["kl"])
    assert colour.colour_values("kl", mu, None) is None and colour.colour_values("class", mu, per_image) is None
    assert colour.colour_values("z9", mu, None) is None
    assert colour.option_label("neg_elbo") == "−ELBO" and colour.option_label("z4") == "posterior mean of z4"


def test_clipped_range_ignores_outliers_and_is_never_empty():
    values = np.concatenate([np.linspace(0, 1, 1000), [1e6, -1e6]])
    low, high = colour.clipped_range(values)
    assert -0.01 < low < 0.05 and 0.95 < high < 1.01
    assert colour.clipped_range(values, None) == (-1e6, 1e6)
    low, high = colour.clipped_range(np.full(5, 2.0))
    assert low == 2.0 and high > low
    assert colour.clipped_range(np.array([np.nan])) == (0.0, 1.0)


# ---------------------------------------------------------------- placement

@pytest.mark.parametrize("kind", ["pca", "latent", "neighbours"])
def test_place_many_equals_the_one_code_placement_row_by_row(kind):
    rng = np.random.default_rng(0)
    dim = 2 if kind == "latent" else 6
    codes = rng.standard_normal((300, dim)).astype(np.float32)
    if kind == "pca":
        arrays = pca_2d(codes)
        projector = ForwardProjector(codes, arrays["xy"], arrays["components"], arrays["mean"])
    else:
        projector = ForwardProjector(codes, codes[:, :2] if kind == "latent" else rng.standard_normal((300, 2)))
    new = rng.standard_normal((25, dim))
    placed = projector.place_many(new)
    assert placed.shape == (25, 2)
    assert np.allclose(placed, np.stack([projector(c) for c in new]), atol=1e-9)
    if kind == "neighbours":  # a test code itself lands on its own map position
        assert np.allclose(projector.place_many(codes[:3]), projector.xy[:3], atol=1e-6)


# ---------------------------------------------------------------- prior and posterior

def test_prior_samples_are_standard_normal_and_reproducible():
    samples = prior.prior_samples(20_000, 3, seed=1)
    assert samples.dtype == np.float32 and np.array_equal(samples, prior.prior_samples(20_000, 3, seed=1))
    assert np.allclose(samples.mean(axis=0), 0, atol=0.03) and np.allclose(samples.std(axis=0), 1, atol=0.03)


def test_aggregate_density_is_the_mixture_of_the_posteriors():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(0)
    mu, logvar, z = rng.standard_normal((7, 3)), rng.normal(-1, 0.3, (7, 3)), rng.standard_normal((5, 3))
    densities = np.array([[multivariate_normal.pdf(p, m, np.diag(np.exp(v)))
                           for m, v in zip(mu, logvar, strict=True)] for p in z])  # (5, 7)
    assert np.allclose(prior.log_aggregate_density(z, mu, logvar, chunk=2), np.log(densities.mean(axis=1)))
    without = prior.log_aggregate_density(z, mu, logvar, leave_out=np.arange(5))
    expected = [np.log(np.delete(densities[i], i).mean()) for i in range(5)]
    assert np.allclose(without, expected)


def test_a_prior_that_matches_the_aggregate_posterior_leaves_about_one_percent_in_holes():
    rng = np.random.default_rng(0)
    mu = rng.normal(0, np.sqrt(0.75), (5000, 2))  # q = N(0, 0.75 + 0.25) = the prior
    logvar = np.full_like(mu, np.log(0.25))
    reference = prior.hole_reference(mu, logvar, n=2000)
    scores = prior.hole_scores(prior.prior_samples(4000, 2, seed=3), mu, logvar, reference)
    assert 0.002 < (scores < prior.HOLE_QUANTILE).mean() < 0.025
    assert 0.4 < np.median(scores) < 0.6


def test_a_prior_sample_between_two_clusters_is_in_a_hole():
    rng = np.random.default_rng(0)
    mu = np.concatenate([rng.normal(-3, 0.3, (500, 2)), rng.normal(3, 0.3, (500, 2))])
    logvar = np.full_like(mu, np.log(0.01))
    scores = prior.hole_scores(np.array([[-3.0, -3.0], [0.0, 0.0], [3.0, 3.0]]), mu, logvar,
                               prior.hole_reference(mu, logvar))
    assert scores[1] < prior.HOLE_QUANTILE < min(scores[0], scores[2])


def test_aggregate_posterior_densities_integrate_to_one_and_see_a_narrow_dimension():
    rng = np.random.default_rng(0)
    mu = np.stack([rng.normal(0, 1, 5000), rng.normal(0, 0.2, 5000)], axis=1)
    logvar = np.full_like(mu, np.log(0.01))
    wide, narrow = (prior.aggregate_posterior(mu, logvar, d) for d in (0, 1))
    for curve in (wide, narrow):
        step = curve["grid"][1] - curve["grid"][0]
        for name in ("aggregate", "prior"):
            assert curve[name].sum() * step == pytest.approx(1, abs=0.01)
        assert (curve["density"] * np.diff(curve["edges"])).sum() == pytest.approx(1)
    at_zero = len(wide["grid"]) // 2
    assert wide["aggregate"][at_zero] == pytest.approx(wide["prior"][at_zero], rel=0.15)
    assert narrow["aggregate"][at_zero] > 3 * narrow["prior"][at_zero]


def test_posterior_samples_follow_mu_and_sigma():
    from vae.diagnostics.posterior import posterior_samples

    mu, logvar = np.array([1.0, -2.0, 0.0]), np.log(np.array([0.25, 1.0, 1e-6]))
    samples = posterior_samples(mu, logvar, 20_000, seed=0)
    assert samples.shape == (20_000, 3)
    assert np.allclose(samples.mean(axis=0), mu, atol=0.03)
    assert np.allclose(samples.std(axis=0), [0.5, 1.0, 1e-3], rtol=0.05)


# ---------------------------------------------------------------- selections

def test_worst_fit_is_the_highest_elbo_first():
    values = np.array([3.0, 9.0, 1.0, 7.0, 9.5])
    assert selection.worst_fit(values, 3).tolist() == [4, 1, 3]
    assert selection.worst_fit(values, 10).tolist() == [4, 1, 3, 0, 2]


def test_selection_summaries_and_hidden_classes():
    labels = np.array([0, 1, 2, 1, 0, 2])
    indices = np.array([0, 1, 3, 5])
    assert selection.without_classes(indices, labels, {0}).tolist() == [1, 3, 5]
    assert selection.without_classes(indices, labels, set()).tolist() == [0, 1, 3, 5]
    assert selection.class_counts(indices, labels, 3).tolist() == [1, 2, 1]
    assert selection.mean_value(indices, np.arange(6.0)) == pytest.approx(9 / 4)
    assert selection.mean_value(indices, None) is None and selection.mean_value(np.array([]), np.ones(6)) is None


def test_selection_downloads_hold_exactly_the_selected_indices_and_codes():
    rng = np.random.default_rng(0)
    mu = rng.standard_normal((10, 3)).astype(np.float32)
    labels = np.array([0, 1, 2] * 3 + [0])
    indices = np.array([7, 2, 5])
    names = ["=HYPERLINK(1)", "b", "c"]
    rows = list(csv.reader(io.StringIO(selection.selection_csv(indices, labels, names, mu).decode())))
    assert rows[0] == ["index", "label", "class", "z0", "z1", "z2"]
    assert [int(r[0]) for r in rows[1:]] == [7, 2, 5]
    assert np.array_equal(np.array([[float(v) for v in r[3:]] for r in rows[1:]], np.float32), mu[indices])
    assert rows[2][2] == "c" and rows[1][2] == "b" and rows[3][2] == "c"
    first = selection.selection_csv(np.array([0]), labels, names, mu).decode().splitlines()[1]
    assert first.split(",")[2] == "'=HYPERLINK(1)"  # not a formula in a spreadsheet
    loaded = np.load(io.BytesIO(selection.selection_npy(indices, labels, mu)), allow_pickle=False)
    assert loaded["index"].tolist() == [7, 2, 5] and np.array_equal(loaded["code"], mu[indices])
    assert loaded["label"].tolist() == labels[indices].tolist()


# ---------------------------------------------------------------- compare

def test_test_set_fingerprints_and_the_reason_two_sets_differ():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (20, 1, 4, 4), dtype=np.uint8)
    assert compare.same_test_set_problem(images, images.copy()) is None
    changed = images.copy()
    changed[3, 0, 0, 0] ^= 1
    assert "1 of their 20 test images differ" in compare.same_test_set_problem(images, changed)
    assert "different test sets: 20 images" in compare.same_test_set_problem(images, images[:10])
    assert compare.test_set_fingerprint(images) != compare.test_set_fingerprint(images[::-1])


def test_procrustes_undoes_a_rotation_reflection_scale_and_shift():
    rng = np.random.default_rng(0)
    target = rng.standard_normal((200, 2))
    angle = 1.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    source = 3.5 * target @ rotation + np.array([10.0, -4.0])
    assert np.allclose(compare.procrustes_align(source, target), target, atol=1e-9)
    noisy = source + rng.normal(0, 0.01, source.shape)
    assert np.abs(compare.procrustes_align(noisy, target) - target).max() < 0.02


def test_metric_rows_pair_the_numbers_of_two_cards():
    rows = compare.metric_rows({"test_neg_elbo": 250.0, "kl_per_dim": [1, 2], "active_units": 5},
                               {"test_neg_elbo": 240.5, "iwae_nll": 238.0, "flag": True})
    assert rows == [("test_neg_elbo", 250.0, 240.5, -9.5), ("active_units", 5.0, None, None),
                    ("iwae_nll", None, 238.0, None)]
    kl, dims = compare.kl_by_rank(np.array([0.1, 2.0, 0.5]))
    assert kl.tolist() == [2.0, 0.5, 0.1] and dims.tolist() == [1, 2, 0]


# ---------------------------------------------------------------- time-lapse

def test_timelapse_keeps_a_bounded_number_of_frames_with_both_ends():
    keep = timelapse.frames_to_keep(1000, 100)
    assert len(keep) == 100 and keep[0] == 0 and keep[-1] == 999 and np.all(np.diff(keep) > 0)
    assert timelapse.frames_to_keep(7, 100).tolist() == list(range(7))
    maps = [np.full((6000, 2), e, np.float32) for e in range(150)]
    arrays = timelapse.timelapse_arrays(list(range(1, 151)), maps, np.zeros(6000), np.arange(6000))
    assert arrays["xy"].shape == (100, 5000, 2) and arrays["xy"].dtype == np.float16
    assert arrays["epochs"][0] == 1 and arrays["epochs"][-1] == 150
    assert timelapse.check_timelapse(arrays, 6000, 1) == []
    assert timelapse.check_timelapse(arrays, 100, 1) == ["timelapse.npz: indices outside the test set"]
