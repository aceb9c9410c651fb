"""Bundle save/load round trip, validation, and refusal of anything that would need unpickling."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.bundle import BundleError, add_projection, load_bundle, read_config, update_config
from vae.bundle.write import _file_record


def rewrite_manifest(bundle: Path, name: str) -> None:
    """What an attacker would do: make config.json vouch for a replaced file."""
    config = json.loads((bundle / "config.json").read_text())
    config["files"][name] = _file_record(bundle / name)
    (bundle / "config.json").write_text(json.dumps(config))


class Payload:
    """Unpickling this creates a marker file: proof that code inside a pickle ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_round_trip_reproduces_the_model_and_arrays(tiny_bundle, synthetic):
    bundle = load_bundle(tiny_bundle)
    assert bundle.images.shape == synthetic.test_images.shape
    assert np.array_equal(bundle.images, synthetic.test_images)
    assert np.array_equal(bundle.labels, synthetic.test_labels)
    assert bundle.mu.shape == (128, 4) and bundle.kl_per_dim.shape == (4,)
    x = torch.from_numpy(bundle.images[:8]).float() / 255
    with torch.no_grad():
        mu, _ = bundle.model.encode(x)
    assert np.allclose(mu.numpy(), bundle.mu[:8], atol=1e-5)
    assert set(bundle.projections) == {"pca"} and bundle.projections["pca"]["xy"].shape == (128, 2)
    assert bundle.config["status"] == "completed" and bundle.class_names == synthetic.class_names
    assert {"torch", "python"} <= set(bundle.config["versions"])


def test_bundle_holds_no_pickles_and_no_temporary_files(tiny_bundle):
    names = sorted(p.name for p in tiny_bundle.iterdir())
    assert names == ["config.json", "latents.npz", "model.safetensors", "per_image.npz", "projection_pca.npz",
                     "test_images.npz"]
    for npz in tiny_bundle.glob("*.npz"):
        with np.load(npz, allow_pickle=False) as arrays:
            assert all(arrays[k].dtype != object for k in arrays.files)


def test_a_pickle_as_weights_is_refused_and_never_run(tiny_bundle, tmp_path):
    marker = tmp_path / "pwned"
    (tiny_bundle / "model.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    rewrite_manifest(tiny_bundle, "model.safetensors")
    with pytest.raises(BundleError, match="model.safetensors: not a safetensors file"):
        load_bundle(tiny_bundle)
    assert not marker.exists()


def test_a_torch_save_checkpoint_as_weights_is_refused(tiny_bundle, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"weights": Payload(marker)}, tiny_bundle / "model.safetensors")
    rewrite_manifest(tiny_bundle, "model.safetensors")
    with pytest.raises(BundleError, match="not a safetensors file"):
        load_bundle(tiny_bundle)
    assert not marker.exists()


def test_pickled_object_arrays_in_npz_are_refused_and_never_run(tiny_bundle, tmp_path):
    marker = tmp_path / "pwned"
    arrays = dict(np.load(tiny_bundle / "latents.npz"))
    arrays["mu"] = np.array([Payload(marker)], dtype=object)
    np.savez(tiny_bundle / "latents.npz", **arrays)
    rewrite_manifest(tiny_bundle, "latents.npz")
    with pytest.raises(BundleError, match="latents.npz: not a readable .npz without pickled objects"):
        load_bundle(tiny_bundle)
    assert not marker.exists()


def test_a_raw_pickle_as_arrays_is_refused_and_never_run(tiny_bundle, tmp_path):
    marker = tmp_path / "pwned"
    (tiny_bundle / "test_images.npz").write_bytes(pickle.dumps(Payload(marker)))
    rewrite_manifest(tiny_bundle, "test_images.npz")
    with pytest.raises(BundleError, match="test_images.npz"):
        load_bundle(tiny_bundle)
    assert not marker.exists()


def test_changed_bytes_fail_the_checksum(tiny_bundle):
    path = tiny_bundle / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model.safetensors: checksum does not match"):
        load_bundle(tiny_bundle)


def test_truncated_file_and_missing_file_are_each_reported(tiny_bundle):
    images = tiny_bundle / "test_images.npz"
    images.write_bytes(images.read_bytes()[:100])
    (tiny_bundle / "projection_pca.npz").unlink()
    with pytest.raises(BundleError) as info:
        load_bundle(tiny_bundle)
    problems = info.value.problems
    assert any("test_images.npz" in p and "truncated" in p for p in problems)
    assert any(p == "projection_pca.npz is missing" for p in problems)


def test_directory_without_config_is_not_a_bundle(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.safetensors").write_bytes(b"x")
    with pytest.raises(BundleError, match="no config.json"):
        load_bundle(tmp_path / "half")


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ('{"format": "something-else"}', "not a vae-lab-bundle"),
    ('[1, 2]', "not a vae-lab-bundle"),
])
def test_bad_config_json(tiny_bundle, text, message):
    (tiny_bundle / "config.json").write_text(text)
    with pytest.raises(BundleError, match=message):
        read_config(tiny_bundle)


def test_newer_format_version_is_refused(tiny_bundle):
    config = json.loads((tiny_bundle / "config.json").read_text())
    config["format_version"] = 99
    (tiny_bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="format_version 99 is not supported"):
        load_bundle(tiny_bundle)


def test_unsafe_file_names_in_manifest_are_refused(tiny_bundle):
    config = json.loads((tiny_bundle / "config.json").read_text())
    config["files"]["../../etc/passwd"] = {"bytes": 1, "sha256": "0"}
    (tiny_bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="unsafe file name"):
        load_bundle(tiny_bundle)


def test_weights_that_do_not_fit_the_config_are_refused(tiny_bundle):
    config = json.loads((tiny_bundle / "config.json").read_text())
    config["model"]["hidden"] = [65]
    (tiny_bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="does not fit the model config"):
        load_bundle(tiny_bundle)


def test_add_projection_and_update_config_keep_the_bundle_valid(tiny_bundle):
    xy = np.random.default_rng(0).normal(size=(128, 2)).astype(np.float32)
    add_projection(tiny_bundle, "umap", {"xy": xy})
    update_config(tiny_bundle, {"metrics": {"iwae_nll": 1.0}})
    bundle = load_bundle(tiny_bundle)
    assert np.array_equal(bundle.projections["umap"]["xy"], xy)
    assert bundle.config["metrics"] == {"iwae_nll": 1.0}
    assert not list(tiny_bundle.glob(".*"))
    with pytest.raises(ValueError, match="files cannot be updated"):
        update_config(tiny_bundle, {"files": {}})


def test_projection_of_the_wrong_length_is_refused_at_load(tiny_bundle):
    add_projection(tiny_bundle, "umap", {"xy": np.zeros((5, 2), np.float32)})
    with pytest.raises(BundleError, match=r"projection umap: xy is \(5, 2\)"):
        load_bundle(tiny_bundle)


def test_image_labels_tell_train_from_test_images_on_a_train_and_test_map(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    assert bundle.image_label(5) == "test #5"
    bundle.config["dataset"].update(map_images="train+test", n_test=100)
    assert bundle.image_label(99) == "test #99" and bundle.image_label(100) == "train #0"
