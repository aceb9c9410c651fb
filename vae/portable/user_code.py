"""Load the user's model file as its own project would: inside its package, without running its script.

`--model repo/models/vanilla_vae.py:VanillaVAE` imports `models.vanilla_vae` with the repository
root (the first folder up without an `__init__.py`) on the path, so the file's own package
imports (`from models import BaseVAE`, `from .types_ import *`) work. A file that runs code when
loaded (pytorch/examples' `vae/main.py` parses arguments, builds data loaders that download, and
builds its model at module level) is recognised from its syntax tree and only its imports,
functions, classes and plain constants run; the lines left out are reported. The user's code runs
in the import's own process (`vae-lab import`), at import time only: a bundle holds ONNX graphs.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from vae.portable.build import ImportRefused, call_user_code

# Calls a module may make at load time and still count as definitions (type helpers, loggers).
DEFINITION_CALLS = frozenset({"TypeVar", "NamedTuple", "namedtuple", "getLogger", "field", "dataclass"})
_LOADED_PACKAGES: dict[str, Path] = {}  # top-level packages this process loaded from a user's repository


@dataclass
class LoadedFactory:
    """The callable, the module name it was loaded as, and the load-time statements left out."""

    factory: Callable[..., Any]
    module: str
    skipped: list[str] = field(default_factory=list)

    def note(self) -> str | None:
        """One line for the user and the model card, or None when the file was imported whole."""
        if not self.skipped:
            return None
        shown = "; ".join(self.skipped[:3]) + (f"; and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else "")
        return (f"the file runs code when loaded ({shown}); only its imports, functions, classes and constants "
                f"were run")


def _is_definition(node: ast.stmt) -> bool:
    """A statement that only defines something: what a module is for, as against a script's work."""
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True  # a docstring
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        calls = [n for n in ast.walk(node.value) if isinstance(n, ast.Call)]
        return all(_called_name(c) in DEFINITION_CALLS for c in calls)
    if isinstance(node, ast.Try):  # try: import x / except ImportError: ...
        return all(_is_definition(n) for n in [*node.body, *node.orelse, *node.finalbody]) and all(
            _is_definition(n) or isinstance(n, ast.Pass) for h in node.handlers for n in h.body)
    return False


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":` never runs in an import: not worth reporting."""
    return isinstance(node, ast.If) and "__name__" in ast.unparse(node.test) and "__main__" in ast.unparse(node.test)


class _LoadTimeNames(ast.NodeVisitor):
    """Names a statement reads when the module loads: not inside function bodies, which run later."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.names.add(node.id)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for part in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if part is not None:
                self.visit(part)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for part in [*node.args.defaults, *node.args.kw_defaults]:
            if part is not None:
                self.visit(part)


def _reads(node: ast.stmt) -> set[str]:
    visitor = _LoadTimeNames()
    visitor.visit(node)
    return visitor.names


def _binds(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def definitions_only(source: str, path: Path) -> tuple[ast.Module, list[str]]:
    """The module's syntax tree with the statements that do work at load time removed, and those listed:
    a definition that reads, while loading, a name only such a statement binds is left out too."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise ImportRefused(f"{path.name}: not valid Python (line {exc.lineno}: {exc.msg})") from exc
    kept, skipped, unbound = [], [], set()
    for node in tree.body:
        if _is_definition(node) and not (_reads(node) & unbound):
            kept.append(node)
            unbound -= _binds(node)
        elif not _is_main_guard(node):
            unbound |= _binds(node)
            text = ast.get_source_segment(source, node) or type(node).__name__
            skipped.append(f"line {node.lineno}: {' '.join(text.split())[:60]}")
    return ast.Module(body=kept, type_ignores=[]), skipped


def package_of(path: Path) -> tuple[Path, str]:
    """(the folder to put on the path, the dotted module name) for a file inside a package tree."""
    folder, parts = path.parent, [path.stem]
    while (folder / "__init__.py").is_file() and folder.name.isidentifier():
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def _forget_package(top: str, root: Path) -> None:
    """Make room for a package of this name: one an earlier import loaded from another repository is
    dropped; one VAE Lab or Python itself uses is a clash the user must hear of."""
    module = sys.modules.get(top)
    if module is None:
        return
    loaded_from = _LOADED_PACKAGES.get(top)
    if loaded_from is None:
        raise ImportRefused(f"the model's package {top!r} has the name of a module VAE Lab itself uses "
                            f"({getattr(module, '__file__', None) or 'built in'}); rename the folder, or copy the "
                            f"model's file out of it")
    if loaded_from != root:
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]


def _exec_definitions(name: str, path: Path, tree: ast.Module) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise ImportRefused(f"{path.name}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, pickling and relative imports look modules up here
    call_user_code(f"running {path.name}", exec, compile(tree, str(path), "exec"), module.__dict__)
    return module


def load_module(path: Path) -> tuple[ModuleType, list[str]]:
    """Import the user's file as its project would; (module, load-time statements left out)."""
    source = path.read_text(encoding="utf-8", errors="replace")
    tree, skipped = definitions_only(source, path)
    root, dotted = package_of(path)
    if "." not in dotted:  # a loose file: a name of its own, its folder on the path for its neighbours
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        dotted = f"vae_lab_user_{path.stem}_{digest}"
    else:
        top = dotted.split(".")[0]
        _forget_package(top, root.resolve())
        _LOADED_PACKAGES[top] = root.resolve()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # kept: the model's methods may import lazily when called
    if skipped or dotted.startswith("vae_lab_user_"):
        parent = dotted.rpartition(".")[0]
        if parent:
            call_user_code(f"importing the package {parent}", importlib.import_module, parent)
        return _exec_definitions(dotted, path, tree if skipped else ast.parse(source, str(path))), skipped
    return call_user_code(f"importing {dotted} (from {path.name})", importlib.import_module, dotted), skipped


def load_factory(reference: str) -> LoadedFactory:
    """`path/to/file.py:name` -> the callable `name` defined in that file."""
    file_name, _, attribute = reference.rpartition(":")
    path = Path(file_name)
    if not file_name or not attribute or path.suffix != ".py":
        raise ImportRefused(f"--model must look like path/to/file.py:factory, got {reference!r}")
    if not path.is_file():
        raise ImportRefused(f"{file_name}: no such file")
    module, skipped = load_module(path.resolve())
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ImportRefused(f"{path.name} defines no callable {attribute!r}"
                            + (" at module level outside the code it runs when loaded" if skipped else ""))
    return LoadedFactory(factory, module.__name__, skipped)
