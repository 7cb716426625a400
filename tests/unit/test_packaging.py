"""The installed import names are the project's own: `paperboy` (bot/), `paperboy_adapters`
(adapters/) and `paperboy_config` (config/), so that installing paperboy next to another
distribution's `adapters` (AdapterHub) or any `config` module breaks neither."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMPORT_NAMES = {"paperboy": "bot", "paperboy_adapters": "adapters", "paperboy_config": "config"}


def setuptools_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_the_installed_distribution_provides_exactly_the_three_import_names() -> None:
    top_level = distribution("paperboy").read_text("top_level.txt") or ""
    assert set(top_level.split()) == set(IMPORT_NAMES)


def test_each_import_name_maps_to_its_folder() -> None:
    assert setuptools_table()["package-dir"] == IMPORT_NAMES


def test_every_package_folder_is_listed_and_nothing_else() -> None:
    """setuptools' package list is explicit (discovery cannot rename folders): a new
    folder left out of it would be missing from a wheel. Data folders (migrations, the
    sample day) are listed too, as the namespace packages Python sees in them."""
    on_disk = set()
    for name, folder in IMPORT_NAMES.items():
        for path in [ROOT / folder, *(ROOT / folder).rglob("*")]:
            if path.is_dir() and path.name != "__pycache__":
                relative = path.relative_to(ROOT / folder).parts
                on_disk.add(".".join((name, *relative)))
    assert set(setuptools_table()["packages"]) == on_disk


def test_no_source_imports_the_folder_names() -> None:
    """`bot`, `adapters` and `config` are folders, not import names: an import of one
    would load a second copy of a module from the checkout (or fail when installed)."""
    stale = re.compile(r"^\s*(from|import)\s+(bot|adapters|config)(\.|\s)", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for top in ("bot", "adapters", "config", "tests", "bench")
        for path in (ROOT / top).rglob("*.py")
        if stale.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
