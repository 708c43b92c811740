"""The import rule of ARCHITECTURE.md, checked on every module: imports point down, never up.

scoring            pure domain, imports nothing of ours
pronscore          foundation: settings, storage, queue, logs, charts
db                 persistence, over scoring's types
engines            the model engines
producer, worker, training, publishing
cli                the command line, the top floor
"""

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

ALLOWED = {
    "scoring": set(),
    "pronscore": {"scoring"},
    "db": {"scoring"},
    "migrations": {"db", "pronscore", "scoring"},
    "engines": {"scoring", "pronscore"},
    "producer": {"scoring", "pronscore", "db"},
    "worker": {"scoring", "pronscore", "db", "engines"},
    "training": {"scoring", "pronscore", "db", "engines"},
    "publishing": {"scoring", "pronscore", "db"},
    "cli": {"scoring", "pronscore", "db", "engines", "producer", "worker", "training", "publishing", "migrations"},
}
TINY_CHECKPOINT = "training.tiny"
MAY_IMPORT_TINY = {"cli.model"}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(p for p in parts if p != "__init__"), path))
    return found


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _upward(module: str, path: Path) -> list[str]:
    package = module.split(".")[0]
    ours = {name for name in _imports(path) if name.split(".")[0] in ALLOWED}
    return sorted(name for name in ours if name.split(".")[0] not in ALLOWED[package] | {package})


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_imports_point_down(module: str, path: Path) -> None:
    upward = _upward(module, path)
    assert upward == [], f"{module} imports {upward}, above or beside it"


def test_only_tests_and_the_model_tiny_command_import_the_tiny_checkpoint() -> None:
    importers = {module for module, path in _modules() if TINY_CHECKPOINT in _imports(path)}
    assert importers - {TINY_CHECKPOINT} == MAY_IMPORT_TINY


def test_the_check_catches_an_upward_import_even_inside_a_function(tmp_path: Path) -> None:
    source = tmp_path / "mdd.py"
    source.write_text("import json\n\ndef f():\n    from db.models import Batch\n    import worker.runner\n")
    assert _upward("scoring.mdd", source) == ["db.models", "worker.runner"]
    assert _upward("cli.queue", source) == []
