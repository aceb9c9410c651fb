"""`vae/` is a library that never imports Streamlit (README, Layout), so the CLI, the importers and the
benches run without the app: no module of it names Streamlit or the app's `ui` package, and importing
all of them in a fresh process leaves Streamlit unloaded."""

from __future__ import annotations

import ast
import subprocess
import sys

from .conftest import ROOT

FORBIDDEN = ("streamlit", "ui", "pages")  # the app's front end, and the packages that wrap it


def _imported_modules(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")):
            names.append(str(node.args[0].value))
    return names


def test_no_library_module_names_streamlit_or_the_app():
    files = sorted((ROOT / "vae").rglob("*.py"))
    assert len(files) > 50
    offending = [f"{path.relative_to(ROOT)}: {name}" for path in files
                 for name in _imported_modules(ast.parse(path.read_text(encoding="utf-8"), str(path)))
                 if name.split(".")[0] in FORBIDDEN]
    assert offending == []


IMPORT_ALL = """
import importlib, pkgutil, sys
import vae
names = [m.name for m in pkgutil.walk_packages(vae.__path__, "vae.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names), sorted(m for m in sys.modules if m.split(".")[0] in ("streamlit", "ui")))
"""


def test_importing_every_library_module_leaves_streamlit_unloaded():
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    count, loaded = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) > 50 and loaded == "[]"
