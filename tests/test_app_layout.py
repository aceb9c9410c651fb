"""The app's layout: one folder per page under pages/, what several pages share in ui/.

A page never imports another page (what two pages need lives in ui/), ui/ imports no page, no app file
grows past 300 lines, and pages/ holds no top-level script that Streamlit's legacy multipage scan
(`pages/*.py` beside the entry script, streamlit/runtime/scriptrunner/script_runner.py) would take.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ui.navigation import PAGES, PAGES_DIR

from .conftest import ROOT

MAX_LINES = 300


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _app_files() -> list[Path]:
    return sorted([*(ROOT / "ui").rglob("*.py"), *PAGES_DIR.rglob("*.py"), ROOT / "app.py"])


def test_no_page_imports_another_page_and_ui_imports_none():
    crossings = []
    for path in _app_files():
        parts = path.relative_to(ROOT).parts
        own = parts[1] if parts[0] == "pages" else None
        for name in _imports(path):
            target = name.split(".")
            if target[0] == "pages" and (len(target) < 2 or target[1] != own):
                crossings.append(f"{path.relative_to(ROOT)} imports {name}")
    assert crossings == []


def test_the_import_check_sees_a_crossing(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("from pages.explore import explorer\nimport pages.train.train_job\n")
    assert {"pages.explore.explorer", "pages.train.train_job"} <= _imports(page)


def test_no_app_file_is_over_300_lines():
    long = {str(p.relative_to(ROOT)): n for p in _app_files() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_page_is_a_folder_with_its_script_and_pages_has_no_top_level_script():
    assert not list(PAGES_DIR.glob("*.py"))  # the legacy scan would serve it without the entry script's checks
    assert sorted(p.folder for p in PAGES) == sorted(d.name for d in PAGES_DIR.iterdir() if d.is_dir()
                                                     and d.name != "__pycache__")
    for page in PAGES:
        assert page.script.is_file() and (page.script.parent / "__init__.py").is_file(), page.folder
    assert len({p.url_path for p in PAGES}) == len(PAGES)
