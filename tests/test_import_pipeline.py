"""The import as a library call (vae.portable.pipeline): what `vae-lab import` and the Open a model page
run, without the command line: refusals are raised, not printed, and given conventions are kept as given."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from vae.portable.conventions import Ambiguous
from vae.portable.pipeline import ImportRequest, run_import
from vae.portable.spec import SpecError

from .published import models
from .test_published_import import namespace


@pytest.fixture()
def squashed(tmp_path):
    """A model whose outputs lie in [0.2, 0.8]: probabilities or pixel means, which running it cannot tell."""
    (tmp_path / "squashed.py").write_text(models.SQUASHED_MODEL)
    torch.manual_seed(0)
    save_file(namespace(models.SQUASHED_MODEL)["Squashed"]().state_dict(), tmp_path / "w.safetensors")
    return ImportRequest(route="torch", dataset="synthetic", model=f"{tmp_path / 'squashed.py'}:Squashed",
                         weights=str(tmp_path / "w.safetensors"))


def test_what_cannot_be_told_is_raised_as_a_question(squashed):
    with pytest.raises(Ambiguous, match="cannot tell"):
        run_import(squashed)


def test_a_given_convention_is_kept_and_the_rest_found_and_nothing_is_written(squashed, tmp_path):
    squashed.conventions = {"decoder_output": "probs", "input_range": "unit", "posterior": None}
    outcome = run_import(squashed)
    assert outcome.bundle is None and outcome.spec.decoder_output == "probs"
    findings = outcome.source["findings"]
    assert findings["decoder_output"]["how"] == findings["input_range"]["how"] == "given"
    assert findings["posterior"]["how"] != "given"
    assert outcome.spec.latent_dim == 4 and sorted(p.name for p in tmp_path.iterdir()) == ["squashed.py",
                                                                                              "w.safetensors"]


def test_a_route_it_does_not_know_and_bad_factory_kwargs_are_refused(squashed):
    with pytest.raises(SpecError, match="unknown import route"):
        run_import(ImportRequest(route="keras", dataset="synthetic"))
    squashed.factory_kwargs = "[1, 2]"
    with pytest.raises(SpecError, match="must be a JSON object"):
        run_import(squashed)
