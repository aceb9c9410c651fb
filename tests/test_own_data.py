"""Your own data: a folder, a zip or a NumPy file checked (counts, sizes, balance), refused, trained on."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vae.bundle import load_bundle
from vae.data import DataFileError, load_dataset
from vae.data.own import check_arrays, check_folder, check_source, held_out
from vae.portable.uploads import UploadRefused
from vae.training.own_data import UPLOADS, allowed_folder, data_roots, store_upload

from .conftest import ROOT

COUNTS = {"circles": 7, "squares": 5, "zigzags": 3}


def write_folder(root: Path, counts: dict[str, int] = COUNTS, size: tuple[int, int] = (28, 28),
                 mode: str = "L") -> Path:
    """One sub-folder per class of PNG images (a few JPEGs among them), and a file that is not an image."""
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = size if mode == "L" else (*size, 3)
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(pixels, mode).save(root / name / f"{i}.{'jpg' if i == 0 else 'png'}")
    (root / next(iter(counts)) / "notes.txt").write_text("not an image")
    return root


def zip_of(folder: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, prefix + file.relative_to(folder).as_posix())
    return buffer.getvalue()


def test_a_folder_check_counts_sizes_formats_and_balance(tmp_path):
    check = check_folder(write_folder(tmp_path / "shapes"))
    assert check.ok, check.refusal
    assert check.n_images == 15 and check.class_names == ["circles", "squares", "zigzags"]
    assert check.class_counts == [7, 5, 3]
    assert dict(check.sizes) == {(28, 28): 15} and check.channels == 1 and check.shape == (1, 28, 28)
    assert dict(check.formats) == {"PNG": 12, "JPEG": 3}
    assert dict(check.ignored) == {".txt": 1}
    assert check.n_test == 1 + 1 + 1  # a tenth of each class, rounded, at least one


def test_colour_images_make_three_channels(tmp_path):
    check = check_folder(write_folder(tmp_path, {"a": 2, "b": 2}, size=(16, 24), mode="RGB"))
    assert check.ok and check.shape == (3, 16, 24)


def test_unreadable_files_are_counted_and_skipped(tmp_path):
    root = write_folder(tmp_path)
    (root / "squares" / "broken.png").write_bytes(b"\x89PNG not really")
    check = check_folder(root)
    assert check.ok and check.n_images == 15 and check.n_unreadable == 1
    assert "squares/broken.png" in check.unreadable[0]


@pytest.mark.parametrize(("setup", "reason"), [
    (lambda root: root.mkdir(), "no class sub-folders"),
    (lambda root: (root / "empty").mkdir(parents=True), "no images found"),
    (lambda root: write_folder(root, {"a": 3}, size=(28, 28)) and write_folder(root, {"b": 2}, size=(32, 32)),
     "come in 2 sizes (28×28: 3, 32×32: 2)"),
    (lambda root: write_folder(root, {"a": 2}, size=(4, 4)), "sides of 8 to 256 pixels"),
    (lambda root: write_folder(root, {"a": 1, "b": 1}), "at least two images of one class"),
])
def test_a_folder_that_cannot_be_used_is_refused_with_one_line(tmp_path, setup, reason):
    root = tmp_path / "data"
    setup(root)
    check = check_folder(root)
    assert not check.ok and reason in check.refusal and "\n" not in check.refusal


def test_too_many_files_are_refused_before_any_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr("vae.data.own.MAX_IMAGES", 10)
    check = check_folder(write_folder(tmp_path))
    assert not check.ok and "more than 10 images" in check.refusal and check.n_images == 0


def test_a_npz_check_reads_labels_and_class_names(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (40, 12, 12), dtype=np.uint8)
    labels = np.repeat([0, 1, 2], [20, 15, 5])
    np.savez(tmp_path / "mine.npz", images=images, labels=labels, class_names=np.array(["x", "y", "z"]))
    check = check_source(str(tmp_path / "mine.npz"))
    assert check.ok and check.n_images == 40 and check.class_counts == [20, 15, 5]
    assert check.class_names == ["x", "y", "z"] and check.shape == (1, 12, 12)
    assert dict(check.formats) == {".npz of uint8": 40} and check.n_test == 2 + 2 + 1


def test_a_npy_without_labels_is_one_class(tmp_path):
    np.save(tmp_path / "floats.npy", np.random.default_rng(0).random((10, 16, 16, 3), dtype=np.float32))
    check = check_arrays(tmp_path / "floats.npy")
    assert check.ok and check.class_names == ["all images"] and check.class_counts == [10]
    assert check.shape == (3, 16, 16)


@pytest.mark.parametrize(("array", "reason"), [
    (np.array([{"a": 1}, None], dtype=object), "holds Python objects"),
    (np.full((4, 16, 16), 1.5, dtype=np.float32), "must be in [0, 1]"),
    (np.zeros((0, 16, 16), dtype=np.uint8), "holds no images"),
    (np.zeros((4, 16), dtype=np.uint8), "must be (N, H, W)"),
])
def test_a_bad_npy_is_refused_with_its_reason(tmp_path, array, reason):
    np.save(tmp_path / "bad.npy", array, allow_pickle=True)
    check = check_arrays(tmp_path / "bad.npy")
    assert not check.ok and reason in check.refusal


def test_held_out_takes_a_tenth_of_each_class_and_is_seeded():
    labels = np.repeat([0, 1, 2], [100, 30, 1])
    test = held_out(labels, 3)
    assert np.bincount(labels[test], minlength=3).tolist() == [10, 3, 0]
    assert np.array_equal(test, held_out(labels, 3)) and not np.array_equal(test, held_out(labels, 3, seed=1))


def test_a_folder_loads_at_its_own_size_and_mixed_sizes_are_refused(tmp_path):
    data = load_dataset(f"folder:{write_folder(tmp_path / 'shapes', size=(20, 24))}")
    assert data.name == "folder:shapes" and data.input_shape == (1, 20, 24)
    assert len(data.test_images) == 3 and len(data.train_images) == 12
    write_folder(tmp_path / "shapes", {"squares": 1}, size=(28, 28))
    with pytest.raises(DataFileError, match="sizes"):
        load_dataset(f"folder:{tmp_path / 'shapes'}")


def test_a_zip_upload_is_stored_once_under_the_training_folder(tmp_path):
    data = zip_of(write_folder(tmp_path / "src"), prefix="my-shapes/")
    root = tmp_path / "runs"
    source = store_upload(root, "shapes.zip", data)
    assert source.startswith(f"folder:{root / UPLOADS}") and source.endswith("/data/my-shapes")
    assert check_source(source).class_counts == [7, 5, 3]
    assert store_upload(root, "again.zip", data) == source
    assert (root / ".gitignore").is_file() and len(list((root / UPLOADS).iterdir())) == 1


@pytest.mark.parametrize(("members", "reason"), [
    ({"../../escaped.png": b"x"}, "unsafe path"),
    ({"/etc/passwd": b"x"}, "unsafe path"),
])
def test_a_hostile_zip_is_refused_and_nothing_is_left(tmp_path, members, reason):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(UploadRefused, match=reason):
        store_upload(tmp_path / "runs", "evil.zip", buffer.getvalue())
    assert list((tmp_path / "runs" / UPLOADS).iterdir()) == [] and not (tmp_path / "escaped.png").exists()


def test_a_zip_of_too_many_entries_is_refused_before_unpacking(tmp_path, monkeypatch):
    monkeypatch.setattr("vae.training.own_data.ZIP_ENTRIES", 10)
    with pytest.raises(UploadRefused, match="holds 16 entries, more than 10"):
        store_upload(tmp_path, "many.zip", zip_of(write_folder(tmp_path / "src")))
    assert list((tmp_path / UPLOADS).iterdir()) == []


def test_linked_files_and_folders_are_not_followed(tmp_path):
    root = write_folder(tmp_path / "shapes")
    (root / "elsewhere").symlink_to(write_folder(tmp_path / "private", {"secrets": 4}))
    (root / "squares" / "link.png").symlink_to(tmp_path / "private" / "secrets" / "1.png")
    check = check_folder(root)
    assert check.class_names == ["circles", "squares", "zigzags"] and check.class_counts == [7, 5, 3]
    assert check.n_unreadable == 1 and "symbolic link" in check.unreadable[0]


def test_an_empty_zip_is_stored_and_its_check_says_so(tmp_path):
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    check = check_source(store_upload(tmp_path, "empty.zip", buffer.getvalue()))
    assert not check.ok and "no class sub-folders" in check.refusal


def test_other_uploads_are_refused(tmp_path):
    with pytest.raises(UploadRefused, match="expected a .zip"):
        store_upload(tmp_path, "weights.pt", b"\x80\x04")


def test_only_the_latest_uploads_are_kept(tmp_path):
    sources = [store_upload(tmp_path, f"{i}.npy", bytes([i]) * 200) for i in range(6)]
    kept = sorted(p.name for p in (tmp_path / UPLOADS).iterdir())
    assert len(kept) == 4 and Path(sources[-1]).parent.name in kept and Path(sources[0]).parent.name not in kept


def test_server_folders_are_any_on_a_local_server_and_listed_ones_on_a_network(tmp_path):
    inside, outside = tmp_path / "data" / "mine", tmp_path / "private"
    inside.mkdir(parents=True)
    outside.mkdir()
    assert data_roots(token_set=False, environ={}) is None
    assert allowed_folder(str(outside), None) == outside.resolve()
    roots = data_roots(token_set=True, environ={"VAE_LAB_DATA_DIRS": str(tmp_path / "data")})
    assert allowed_folder(str(inside), roots) == inside.resolve()
    with pytest.raises(ValueError, match="only under"):
        allowed_folder(str(inside / ".." / ".." / "private"), roots)
    with pytest.raises(ValueError, match="none: the operator"):
        allowed_folder(str(inside), data_roots(token_set=True, environ={}))
    with pytest.raises(ValueError, match="not a folder"):
        allowed_folder(str(tmp_path / "absent"), None)


def test_the_cli_trains_on_a_npz_and_the_bundle_opens(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "own.npz", images=rng.integers(0, 256, (120, 16, 16), dtype=np.uint8),
             labels=np.repeat([0, 1], 60), class_names=np.array(["left", "right"]))
    out = tmp_path / "own-mlp"
    result = subprocess.run([sys.executable, "-m", "vae.cli", "train", "--dataset", str(tmp_path / "own.npz"),
                             "--arch", "mlp", "--latent-dim", "2", "--epochs", "1", "--batch-size", "32",
                             "--device", "cpu", "--live-map", "0", "--no-umap", "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    bundle = load_bundle(out)
    assert bundle.config["dataset"]["class_names"] == ["left", "right"]
    assert bundle.config["dataset"]["n_test"] == 12 and bundle.images.shape[1:] == (1, 16, 16)


def test_the_cli_refuses_mixed_sizes_in_one_line(tmp_path):
    write_folder(tmp_path / "mixed", {"a": 3}, size=(28, 28))
    write_folder(tmp_path / "mixed", {"b": 3}, size=(32, 32))
    result = subprocess.run([sys.executable, "-m", "vae.cli", "train", "--dataset", f"folder:{tmp_path / 'mixed'}",
                             "--out", str(tmp_path / "x")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "a model takes one size" in result.stderr and "Traceback" not in result.stderr
