"""requirements.txt is the set scripts/setup.sh installs, generated from pyproject.toml, and the only pin list."""

from __future__ import annotations

import importlib.util
import re

from packaging.requirements import Requirement

from .conftest import ROOT

_spec = importlib.util.spec_from_file_location("requirements_script", ROOT / "scripts" / "requirements.py")
requirements = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(requirements)


def test_requirements_txt_is_what_the_generator_writes_from_pyproject_and_this_environment():
    assert (ROOT / "requirements.txt").read_text() == requirements.render(), \
        "out of date: run `python scripts/requirements.py`"


def test_every_dependency_and_first_pin_of_pyproject_is_pinned_within_its_range():
    first, ranges = requirements.pins_and_ranges()
    pinned = {Requirement(line).name: Requirement(line) for line in (ROOT / "requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    for spec in map(Requirement, [*first, *ranges]):
        (version,) = [s.version for s in pinned[spec.name].specifier]
        assert spec.specifier.contains(version, prereleases=True), (spec, version)


def test_no_script_repeats_a_pin():
    for script in ("setup.sh", "check-install.sh"):
        assert not re.search(r"torch(vision)?==", (ROOT / "scripts" / script).read_text()), script


def test_the_cpu_set_is_the_full_set_less_torchs_gpu_libraries_only():
    """requirements-cpu.txt (scripts/setup.sh's choice once PyTorch's CPU build is in) drops torch's CUDA
    libraries and triton, and nothing else: Streamlit's watchdog, also under a marker, stays."""
    assert (ROOT / "requirements-cpu.txt").read_text() == requirements.render(cpu=True)
    def lines(name):
        return {line for line in (ROOT / name).read_text().splitlines() if line and not line.startswith("#")}
    full, cpu = lines("requirements.txt"), lines("requirements-cpu.txt")
    dropped = {Requirement(line).name for line in full - cpu}
    assert cpu < full and dropped and all(n.startswith(("nvidia-", "cuda-")) or n == "triton" for n in dropped)
    kept = {Requirement(line).name for line in cpu}
    assert {"torch", "torchvision", "streamlit", "watchdog", "umap-learn"} <= kept
