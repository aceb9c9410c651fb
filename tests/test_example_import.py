"""The README's worked example: a plain PyTorch VAE script outside VAE Lab trains for an epoch and saves a
state dict; `import torch` makes a bundle of it; the user's files are deleted and every page still works."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from vae.bundle import load_bundle
from vae.data.datasets import find_idx_files
from vae.portable.runtime import PortableVAE

from .conftest import ROOT, page_script, slider_data
from .plotly_spec import decode, point_traces

pytestmark = pytest.mark.skipif(find_idx_files("fashion-mnist") is None, reason="needs the Fashion-MNIST IDX files")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Train the example in its own folder, import it, then delete that folder (script and weights)."""
    root = tmp_path_factory.mktemp("example")
    project = root / "someone-elses-project"
    project.mkdir()
    shutil.copy(ROOT / "examples" / "pytorch_vae.py", project / "my_vae.py")
    subprocess.run([sys.executable, "my_vae.py", "--epochs", "1", "--limit", "3000", "--out", "weights.pt"],
                   cwd=project, check=True, capture_output=True, timeout=600)
    out = root / "checkpoints" / "fashion-import"
    result = subprocess.run(
        [sys.executable, "-m", "vae.cli", "import", "torch", "--model", f"{project / 'my_vae.py'}:VAE",
         "--weights", str(project / "weights.pt"), "--dataset", "fashion-mnist", "--limit", "2000",
         "--out", str(out), "--no-umap", "--iwae-k", "10", "--iwae-images", "50"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "encoding" in result.stderr and "2000/2000" in result.stderr  # the progress bar
    assert "found: input_layout = flat" in result.stderr and "INFO" not in result.stderr  # no exporter chatter
    shutil.rmtree(project)
    return out


def test_the_bundle_opens_without_the_users_files(imported):
    bundle = load_bundle(imported)
    assert isinstance(bundle.model, PortableVAE) and bundle.mu.shape == (2000, 20)
    record = bundle.config["import"]
    assert record["route"] == "torch" and record["model"] == "my_vae.py:VAE"
    assert max(record["parity"]["max_abs_diff"].values()) <= 1e-4
    assert bundle.config["metrics"]["test_neg_elbo"] > 0 and bundle.config["metrics"]["iwae_k"] == 10


def page(name: str) -> AppTest:
    at = AppTest.from_file(page_script(name), default_timeout=120)
    at.session_state["bundle_choice"] = "fashion-import"
    return at.run()


def test_every_page_works_on_it(imported, monkeypatch):
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(imported.parent))
    explore = page("explore")
    assert not explore.exception and len(slider_data(explore)["rows"]) == 20
    traces = point_traces(json.loads(explore.get("plotly_chart")[0].proto.spec))
    drawn = np.concatenate([decode(t["customdata"]) for t in traces])
    assert len(np.unique(drawn)) == 2000  # every mapped test image is a point on the map
    assert any(c.value.startswith("2,000 images ·") for c in explore.caption)
    for name in ("interpolate", "generate", "your_image", "model_card"):
        at = page(name)
        assert not at.exception, name
        assert at.get("image"), name
    card = {row: value.replace("\\", "") for table in at.table  # the text as shown, Markdown escapes removed
            for row, value in zip(table.value.iloc[:, 0], table.value.iloc[:, 1], strict=True)}
    assert card["input layout"].startswith("flat (found: the first layout encode(x) accepts")
    assert card["likelihood"].startswith("bernoulli (found: the decoder gives probabilities")
