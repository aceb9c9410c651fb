"""IDX parsing, the dataset search order, the download path (on a local server) and folders."""

import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vae.data import DataFileError, DatasetNotFoundError, load_dataset
from vae.data import datasets as ds
from vae.data.idx import read_idx_images, read_idx_labels, write_idx


def write_idx_set(directory: Path, n_train=20, n_test=10, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for stem, array in arrays.items():
        write_idx(directory / f"{stem}{suffix}", array.astype(np.uint8))
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip_for_gzip_and_raw_files(tmp_path, gz):
    arrays = write_idx_set(tmp_path, gz=gz)
    suffix = ".gz" if gz else ""
    images = read_idx_images(tmp_path / f"train-images-idx3-ubyte{suffix}")
    labels = read_idx_labels(tmp_path / f"train-labels-idx1-ubyte{suffix}")
    assert images.shape == (20, 1, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images[:, 0], arrays["train-images-idx3-ubyte"])
    assert np.array_equal(labels, arrays["train-labels-idx1-ubyte"])


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_written_by_hand_read_as_the_format_says(tmp_path, gz):
    """Bytes laid out from the IDX description with struct alone, not by the project's writer."""
    n, rows, cols = 260, 5, 4  # 260 = 0x0104: both bytes of the count matter; rows != columns
    pixels = bytes((7 * i + 3) % 256 for i in range(n * rows * cols))
    images = struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">III", n, rows, cols) + pixels
    labels = bytes([0, 0, 0x08, 1]) + struct.pack(">I", n) + bytes(i % 10 for i in range(n))
    suffix = ".gz" if gz else ""
    for name, data in (("images", images), ("labels", labels)):
        (tmp_path / f"{name}{suffix}").write_bytes(gzip.compress(data) if gz else data)
    got = read_idx_images(tmp_path / f"images{suffix}")
    assert got.shape == (n, 1, rows, cols) and got.dtype == np.uint8
    image, row, col = 259, 3, 1  # row-major: image, then row, then column
    assert got[image, 0, row, col] == pixels[(image * rows + row) * cols + col]
    assert got.tobytes() == pixels
    assert read_idx_labels(tmp_path / f"labels{suffix}").tolist() == [i % 10 for i in range(n)]
    # The project's writer lays out the very same bytes.
    write_idx(tmp_path / "written", got[:, 0], compress=False)
    assert (tmp_path / "written").read_bytes() == images


def test_truncated_idx_names_the_file(tmp_path):
    write_idx_set(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataFileError, match="train-images-idx3-ubyte.*truncated"):
        read_idx_images(path)


def test_corrupt_gzip_names_the_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    blob = gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 100)
    path.write_bytes(blob[:12] + b"garbage" * 5)
    with pytest.raises(DataFileError, match="t10k-images-idx3-ubyte.gz.*gzip"):
        read_idx_images(path)


def test_labels_file_given_as_images_is_refused(tmp_path):
    write_idx_set(tmp_path, gz=False)
    with pytest.raises(DataFileError, match="magic"):
        read_idx_images(tmp_path / "train-labels-idx1-ubyte")


def test_not_an_idx_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(DataFileError, match="not an IDX file"):
        read_idx_images(path)


def test_data_dir_is_searched_before_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_idx_set(tmp_path / "data" / "mnist", n_train=5)
    write_idx_set(tmp_path / "mine", n_train=7)
    assert len(load_dataset("mnist", data_dir=tmp_path / "mine").train_images) == 7
    assert len(load_dataset("mnist").train_images) == 5


def test_torchvision_raw_layout_is_found(tmp_path):
    write_idx_set(tmp_path / "KMNIST" / "raw", n_train=6)
    data = load_dataset("kmnist", data_dir=tmp_path)
    assert len(data.train_images) == 6 and len(data.class_names) == 10


def test_mismatched_label_count_is_an_error(tmp_path):
    write_idx_set(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DataFileError, match="3 labels for 10 images"):
        load_dataset("mnist", data_dir=tmp_path)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def local_mirror(tmp_path):
    """An HTTP server on loopback serving small generated MNIST-format files."""
    served = tmp_path / "served"
    write_idx_set(served, n_train=12, n_test=4)
    handler = lambda *a, **k: _Quiet(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_path_fetches_verifies_and_loads(tmp_path, local_mirror, monkeypatch):
    import torchvision.datasets as tvd

    served, url = local_mirror
    resources = [(p.name, hashlib.md5(p.read_bytes()).hexdigest()) for p in sorted(served.iterdir())]
    monkeypatch.setattr(tvd.MNIST, "mirrors", [url])
    monkeypatch.setattr(tvd.MNIST, "resources", resources)
    monkeypatch.setattr(ds, "SYSTEM_DATA_ROOT", tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    data = load_dataset("mnist")
    assert data.train_images.shape == (12, 1, 28, 28) and data.test_images.shape == (4, 1, 28, 28)
    assert (tmp_path / "data" / "mnist" / "MNIST" / "raw").is_dir()


def test_offline_failure_says_where_to_put_the_files(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])
    monkeypatch.setattr(ds, "SYSTEM_DATA_ROOT", tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion-mnist")
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and "data/fashion-mnist" in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_folder_dataset_resizes_converts_and_skips_bad_files(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
        for i in range(5):
            pixels = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    (tmp_path / "cats" / "broken.png").write_bytes(b"not an image")
    data = load_dataset(f"folder:{tmp_path}", shape=(3, 32, 32))
    assert data.class_names == ["cats", "dogs"]
    assert data.train_images.shape[1:] == (3, 32, 32) and data.train_images.dtype == np.uint8
    assert len(data.train_images) + len(data.test_images) == 10
    assert set(data.test_labels.tolist()) == {0, 1}


def test_folder_without_classes_is_refused(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="no class sub-folders"):
        load_dataset(f"folder:{tmp_path}")


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(ValueError, match="fashion-mnist"):
        load_dataset("imagenet")


def test_synthetic_dataset_is_deterministic():
    a, b = load_dataset("synthetic"), load_dataset("synthetic")
    assert np.array_equal(a.train_images, b.train_images) and a.input_shape == (1, 28, 28)
