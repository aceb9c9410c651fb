"""The notebook widget, headless: a notebook that creates it runs under nbclient (a real kernel),
and the widget's state reaches the front end nbclient plays. In JupyterLab: tests/browser/test_notebook_lab.py."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from vae.bundle import load_bundle
from vae.share.site import ORT_DIR, ORT_MODULE

from .conftest import ROOT

pytestmark = pytest.mark.skipif(not (ORT_DIR / ORT_MODULE).is_file(),
                                reason=f"onnxruntime-web is not in {ORT_DIR}: run scripts/web-assets.sh")
Z2 = ROOT / "checkpoints" / "fashion-mnist-conv-z2"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def run_notebook(*cells: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return notebook


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_a_notebook_shows_the_widget_and_reads_a_selection_back():
    notebook = run_notebook(
        f"from vae_lab.notebook import explore\nwidget = explore({str(Z2)!r}, max_images=300)\nwidget",
        "widget.selected_index = 7\nprint(widget.selected['indices'], widget.selected['codes'].tolist())",
        "print(widget.site['n_images'], widget.site['projection'], len(widget.decoder) > 0)",
    )
    shown = notebook.cells[0].outputs[0]["data"][WIDGET_VIEW]
    states = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    state = states[shown["model_id"]]["state"]
    assert state["site"]["name"] == "fashion-mnist-conv-z2" and state["site"]["n_images"] == 300
    assert "mountExplorer" in state["_esm"]  # the explorer's own source, as a site has it
    assert ".vae-lab-explorer" in state["_css"] and ".live-decoder" in state["_css"]
    indices, codes = printed(notebook.cells[1]).split("] ")
    assert indices == "[7" and np.allclose(json.loads(codes), [load_bundle(Z2).mu[7]], atol=1e-6)
    assert printed(notebook.cells[2]).split() == ["300", "latent", "True"]


def test_a_model_and_images_in_memory_get_codes_a_map_and_values():
    notebook = run_notebook(
        "from vae.bundle import load_bundle\nfrom vae_lab.notebook import explore\n"
        f"bundle = load_bundle({str(Z2)!r})\n"
        "widget = explore(bundle.model, bundle.images[:120] / 255.0, labels=bundle.labels[:120])",
        "import numpy as np\nfrom vae.models.inference import encode\n"
        "mu, _ = encode(bundle.model, bundle.images[:120])\n"
        "widget.selected_index = 3\n"
        "print(widget.site['n_images'], widget.site['projection'], np.allclose(widget.selected['codes'], mu[[3]]))",
    )
    assert printed(notebook.cells[1]).split() == ["120", "latent", "True"]
