"""Turn a source spec (`--source`, `PAPERBOY_SOURCE`) into a PaperSource."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from paperboy.sources import PaperSource, SourceError
from paperboy.sources.file import FileSource

if TYPE_CHECKING:
    from paperboy_config.settings import Settings

SPECS = "hf, sample or the path of a daily_papers JSON file"


def source_from_spec(spec: str, settings: Settings) -> PaperSource:
    """`hf`: the live API (configured by `settings`); `arxiv`: the arXiv listing of
    `settings.arxiv_categories`;
    `sample`: the bundled day of 2024-11-11; anything else: a file path.

    Names are case-insensitive; a file called `hf` or `sample` is reachable as `./hf`.
    Nothing is read here: a missing file fails at the first fetch, so commands that
    never fetch (subscribe, list) work whatever the configured source.
    """
    name = spec.strip()
    if not name:
        raise SourceError(f"no source given: use {SPECS}")
    if name.lower() == "hf":
        from paperboy.sources.huggingface import HuggingFaceSource  # httpx: only when used

        return HuggingFaceSource.from_settings(settings)
    if name.lower() == "arxiv":
        from paperboy.sources.arxiv import ArxivSource

        return ArxivSource.from_settings(settings)
    if name.lower() == "sample":
        return FileSource.sample()
    return FileSource(Path(name), max_bytes=settings.http_max_bytes)
