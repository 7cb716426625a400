"""Turn a source spec (`--source`, `PAPERBOY_SOURCE`) into a PaperSource."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.sources import DEFAULT_MAX_BYTES, PaperSource, SourceError
from bot.sources.file import FileSource
from bot.sources.huggingface import HuggingFaceSource

if TYPE_CHECKING:
    from config.settings import Settings

SPECS = "hf, sample or the path of a daily_papers JSON file"


def source_from_spec(spec: str, settings: Settings | None = None) -> PaperSource:
    """`hf`: the live API (configured by `settings`, default `get_settings()`); `arxiv`: the
    arXiv listing of `settings.arxiv_categories`;
    `sample`: the bundled day of 2024-11-11; anything else: a file path.

    Names are case-insensitive; a file called `hf` or `sample` is reachable as `./hf`.
    Nothing is read here: a missing file fails at the first fetch, so commands that
    never fetch (subscribe, list) work whatever the configured source.
    """
    name = spec.strip()
    if not name:
        raise SourceError(f"no source given: use {SPECS}")
    if name.lower() == "hf":
        if settings is None:
            from config.settings import get_settings

            settings = get_settings()
        return HuggingFaceSource.from_settings(settings)
    if name.lower() == "arxiv":
        from bot.sources.arxiv import ArxivSource

        if settings is None:
            from config.settings import get_settings

            settings = get_settings()
        return ArxivSource.from_settings(settings)
    if name.lower() == "sample":
        return FileSource.sample()
    max_bytes = settings.http_max_bytes if settings is not None else DEFAULT_MAX_BYTES
    return FileSource(Path(name), max_bytes=max_bytes)
