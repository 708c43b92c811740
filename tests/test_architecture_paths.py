"""ARCHITECTURE.md sends readers to files and folders: each one it names must exist.

A quoted name with a slash is relative to the repository root (`db/batches.py`, `engines/gop/`,
`db/reports/*.sql`); a bare file name (`loading.py`) is in a folder its paragraph named before
it, or the folder of a file it named: the latest that has it.
"""

import re
from pathlib import Path

from tests.conftest import ROOT

DOCUMENT = ROOT / "ARCHITECTURE.md"
QUOTED = re.compile(r"`([^`]+)`")
FILE_SUFFIXES = (".py", ".sql", ".md", ".toml", ".yml", ".yaml", ".json", ".ini", ".mako")


def named_paths(text: str) -> list[tuple[str, Path | None]]:
    """Each path the text names, as written, and where it is (None: a bare file name with no
    folder before it in its paragraph)."""
    found: list[tuple[str, Path | None]] = []
    for paragraph in re.split(r"\n\s*\n", text):
        folders: list[Path] = []
        for quoted in QUOTED.findall(paragraph):
            name = re.split(r"[:\s]", quoted, maxsplit=1)[0]
            if "/" in name:
                found.append((name, ROOT / name))
                folders.append(ROOT / name if name.endswith("/") else (ROOT / name).parent)
            elif name.endswith(FILE_SUFFIXES) and re.fullmatch(r"[\w.-]+", name):
                found.append((name, _place(name, folders)))
    return found


def _place(name: str, folders: list[Path]) -> Path | None:
    """The latest folder named before a bare file name that has it, else the latest (where it is missing)."""
    for folder in reversed(folders):
        if (folder / name).exists():
            return folder / name
    return folders[-1] / name if folders else None


def test_the_check_reads_folders_files_and_globs() -> None:
    text = (
        "`engines/gop/` is `aligner.py` (`x: y`) and `db/batches.py: claim`, `upserts.py`, `features.py`,"
        " `gone.py`.\n\n`loose.py` and `db/*.sql`"
    )
    assert named_paths(text) == [
        ("engines/gop/", ROOT / "engines/gop"),
        ("aligner.py", ROOT / "engines/gop/aligner.py"),
        ("db/batches.py", ROOT / "db/batches.py"),
        ("upserts.py", ROOT / "db/upserts.py"),
        ("features.py", ROOT / "engines/gop/features.py"),
        ("gone.py", ROOT / "db/gone.py"),
        ("loose.py", None),
        ("db/*.sql", ROOT / "db/*.sql"),
    ]


def test_every_path_architecture_md_names_exists() -> None:
    paths = named_paths(DOCUMENT.read_text())
    assert len(paths) > 50, "the check found too few paths to be reading the document"
    unplaced = [name for name, path in paths if path is None]
    missing = [name for name, path in paths if path is not None and not any(ROOT.glob(str(path.relative_to(ROOT))))]
    assert not unplaced, f"name the folder of these before them in their paragraph: {unplaced}"
    assert not missing, f"ARCHITECTURE.md names paths that do not exist: {missing}"
