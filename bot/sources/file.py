"""A recorded daily_papers response read from a file: offline demos, tests, replays.

A file is one recorded day. `fetch_day` returns all of its papers whatever day is
asked for (a demo asking for "today" still gets the recording) and sets `.day`, the
most common `daily_date` among them, so callers can label the digest with the day
the papers really belong to rather than the day they asked for.

A file is untrusted input like any response: at most `max_bytes` are read (the size of
a regular file is checked before reading it, and a pipe is read no further than one byte
past the cap), and only regular files and pipes are read at all, so `/dev/zero` or a
directory is refused at once with one line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
from collections import Counter
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from bot.models import Paper
from bot.sources import DEFAULT_MAX_BYTES, SourceError
from bot.sources.hf_json import load_json, parse_daily_papers

SAMPLE_DATE = dt.date(2024, 11, 11)
SAMPLE_NAME = f"sample_{SAMPLE_DATE.isoformat()}.json"
_READ_CHUNK = 1 << 20


def sample_resource() -> Traversable:
    """The bundled sample day, found through importlib.resources (works when installed)."""
    return files("bot.sources").joinpath("data", SAMPLE_NAME)


class FileSource:
    """Papers from a JSON file shaped like HF's daily_papers response.

    `path` is a filesystem path or an importlib.resources `Traversable`. Papers keep
    `source="hf"`: a recording of HF is HF data, with valid HF links.
    """

    name = "file"

    def __init__(
        self, path: str | os.PathLike[str] | Traversable, *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if isinstance(path, str | os.PathLike):
            path = Path(os.fspath(path)).expanduser()
        self.path: Traversable = path
        self.max_bytes = max_bytes
        self.day: dt.date | None = None

    @classmethod
    def sample(cls) -> FileSource:
        """The bundled day of 2024-11-11 (9 papers)."""
        return cls(sample_resource())

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r})"

    async def fetch_day(self, day: dt.date | None = None) -> list[Paper]:
        """All papers of the file; `day` is ignored (see the module docstring)."""
        raw = await asyncio.to_thread(self._read)
        try:
            data = load_json(raw)
        except (ValueError, RecursionError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise SourceError(f"papers file {self.path} is not valid JSON: {reason}") from exc
        papers = parse_daily_papers(data, origin=f"papers file {self.path}")
        self.day = most_common_day(papers)
        return papers

    def _read(self) -> bytes:
        try:
            if isinstance(self.path, Path):
                return self._read_path(self.path)
            return self.path.read_bytes()  # a bundled resource
        except FileNotFoundError as exc:
            raise SourceError(f"cannot read papers file {self.path}: no such file") from exc
        except IsADirectoryError as exc:
            raise SourceError(f"cannot read papers file {self.path}: it is a directory") from exc
        except PermissionError as exc:
            raise SourceError(f"cannot read papers file {self.path}: permission denied") from exc
        except OSError as exc:
            reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
            raise SourceError(f"cannot read papers file {self.path}: {reason}") from exc

    def _read_path(self, path: Path) -> bytes:
        """At most `max_bytes` of a regular file or a pipe (see the module docstring)."""
        with path.open("rb", buffering=0) as file:
            info = os.fstat(file.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(path)
            regular = stat.S_ISREG(info.st_mode)
            if not regular and not stat.S_ISFIFO(info.st_mode):
                raise SourceError(f"cannot read papers file {path}: not a regular file")
            if regular and info.st_size > self.max_bytes:
                raise self._too_large()
            chunks: list[bytes] = []
            size = 0
            while size <= self.max_bytes:
                chunk = file.read(min(_READ_CHUNK, self.max_bytes + 1 - size))
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                size += len(chunk)
            raise self._too_large()

    def _too_large(self) -> SourceError:
        return SourceError(
            f"papers file {self.path} is larger than {self.max_bytes:,} bytes "
            "(PAPERBOY_HTTP_MAX_BYTES)"
        )


def most_common_day(papers: list[Paper]) -> dt.date | None:
    """The daily_date most papers carry (the latest on a tie), or None if none has one."""
    counts = Counter(paper.daily_date for paper in papers if paper.daily_date)
    if not counts:
        return None
    return max(counts, key=lambda day: (counts[day], day))
