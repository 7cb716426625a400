"""The trend chart: papers per week as lines, drawn to a PNG with matplotlib's Agg backend.

Readable on a phone in dark and in light themes: the chart brings its own light card
(a white background with dark text, not a transparent one that would put dark text on a
dark theme), thick lines in the Okabe-Ito colour-blind safe palette, a label at the end of
every line as well as a legend, large type, and the week of a rollup shaded and named.
1200 x 675 pixels (16:9), so Slack and Discord show it whole on a phone.

matplotlib is imported when the first chart is drawn, never at import time (`paperboy
--help` stays fast), with the Agg backend (no display) and its bundled DejaVu Sans (no
font lookup, no download). Drawing is CPU work: callers run `render_png` in a worker
thread; a lock keeps matplotlib's global state to one drawing at a time.

What was drawn is written into the PNG itself, as a `tEXt` chunk (`paperboy:series`)
read back from the plotted lines: `plotted_series()` returns it, so tests check the data
a chart shows, not its pixels.
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT, DPI = 1200, 675, 150
MAX_SERIES = 6
SERIES_CHUNK = "paperboy:series"
#: Okabe-Ito: distinguishable with the common colour blindnesses, and on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
INK = "#1F2328"
MUTED = "#59636E"
CARD = "#FFFFFF"
MARK = "#FFF1C2"

_lock = threading.Lock()
_pyplot: Any = None


@dataclass(frozen=True, slots=True)
class ChartSeries:
    label: str
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ChartData:
    """What a chart shows: one line per series over `weeks` (labels like 2026-W48)."""

    title: str
    weeks: tuple[str, ...]
    series: tuple[ChartSeries, ...] = field(default=())
    marked: str | None = None  # the week to mark (a rollup's own)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "weeks": list(self.weeks),
            "series": [{"label": s.label, "counts": list(s.counts)} for s in self.series],
            "marked": self.marked,
        }


def _matplotlib() -> Any:
    """pyplot with the Agg backend, imported on first use."""
    global _pyplot
    if _pyplot is None:
        os.environ.setdefault("MPLBACKEND", "Agg")
        # The first import builds a font cache (or, with no writable home, a temporary
        # one) and says so with a warning: not news for a chat bot's log.
        quiet = [logging.getLogger(n) for n in ("matplotlib", "matplotlib.font_manager")]
        levels = [logger.level for logger in quiet]
        for logger in quiet:
            logger.setLevel(logging.ERROR)
        try:
            import matplotlib

            matplotlib.use("Agg", force=True)
            import matplotlib.pyplot as pyplot
        finally:
            for logger, level in zip(quiet, levels, strict=True):
                logger.setLevel(level)
        matplotlib.rcParams.update(
            {
                "font.family": "DejaVu Sans",
                "font.size": 13,
                "svg.fonttype": "none",
                "axes.titlesize": 17,
                "axes.labelsize": 13,
            }
        )
        _pyplot = pyplot
    return _pyplot


def _short(label: str, limit: int = 28) -> str:
    label = " ".join(label.split())
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _tick_labels(weeks: Sequence[str]) -> list[str]:
    """`W48` for every week, the year added where it starts (and to the first)."""
    out: list[str] = []
    year = None
    for week in weeks:
        y, _, w = week.partition("-")
        out.append(f"{w}\n{y}" if y != year else w)
        year = y
    return out


def render_png(data: ChartData) -> bytes:
    """The chart as PNG bytes (CPU work: call it from a worker thread)."""
    with _lock:
        return _render(data)


def _render(data: ChartData) -> bytes:
    plt = _matplotlib()
    fig = plt.figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor=CARD)
    try:
        ax = fig.add_subplot(1, 1, 1, facecolor=CARD)
        xs = list(range(len(data.weeks)))
        if data.marked in data.weeks:
            at = data.weeks.index(data.marked)
            ax.axvspan(at - 0.5, at + 0.5, color=MARK, zorder=0, label="_marked")
            ax.annotate(
                "this week",
                xy=(at, 1.0),
                xycoords=("data", "axes fraction"),
                ha="center",
                va="bottom",
                fontsize=11,
                color=MUTED,
            )
        top = 0
        for index, series in enumerate(data.series[:MAX_SERIES]):
            colour = PALETTE[index % len(PALETTE)]
            ax.plot(
                xs,
                list(series.counts),
                color=colour,
                linewidth=2.8,
                marker="o",
                markersize=4.5,
                label=_short(series.label),
                zorder=3,
            )
            top = max(top, *series.counts, 0)
        ax.set_title(_short(data.title, 70), color=INK, loc="left", pad=16)
        ax.set_ylabel("papers per week", color=MUTED)
        ax.set_xticks(xs)
        ax.set_xticklabels(_tick_labels(data.weeks), fontsize=10, color=MUTED)
        ax.set_ylim(0, max(top * 1.15, 1))
        ax.set_xlim(-0.5, max(len(xs) - 0.5, 0.5))
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.tick_params(colors=MUTED)
        ax.grid(axis="y", color="#D0D7DE", linewidth=0.8, zorder=1)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color("#D0D7DE")
        if data.series:
            # Below the plot, where it never hides a line.
            ax.legend(
                loc="upper center",
                bbox_to_anchor=(
                    0.5,
                    -0.16
                    if len(data.weeks) and any("\n" in t for t in _tick_labels(data.weeks))
                    else -0.1,
                ),
                frameon=False,
                fontsize=11,
                labelcolor=INK,
                ncols=min(3, len(data.series)),
            )
        else:
            ax.text(0.5, 0.5, "no papers", transform=ax.transAxes, ha="center", color=MUTED)
        fig.tight_layout()
        plotted = [
            {"label": line.get_label(), "counts": [int(y) for y in line.get_ydata()]}
            for line in ax.get_lines()
        ]
        marked = data.marked if data.marked in data.weeks else None
        meta = {"weeks": list(data.weeks), "series": plotted, "marked": marked}
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, facecolor=CARD)
        return _compact(buffer.getvalue(), {"Software": "paperboy", SERIES_CHUNK: json.dumps(meta)})
    finally:
        plt.close(fig)


def _compact(png: bytes, text: dict[str, str]) -> bytes:
    """The PNG with a 128-colour palette (a few lines on a flat card need no more; a
    quarter of the bytes of RGBA, and the outbox keeps one per rollup) and `text` chunks."""
    from PIL import Image, PngImagePlugin

    with Image.open(io.BytesIO(png)) as image:
        flat = image.convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE)
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    out = io.BytesIO()
    flat.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


# ------------------------------------------------------------------- reading a PNG back


def png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) chunks of a PNG; ValueError when it is not a valid one."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    out: list[tuple[bytes, bytes]] = []
    at = 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        body = png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in chunk {kind!r}")
        out.append((kind, body))
        at += 12 + length
        if kind == b"IEND":
            break
    if not out or out[0][0] != b"IHDR" or out[-1][0] != b"IEND":
        raise ValueError("a PNG without IHDR or IEND")
    return out


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk."""
    width, height = struct.unpack(">II", png_chunks(png)[0][1][:8])
    return int(width), int(height)


def plotted_series(png: bytes) -> dict[str, Any]:
    """What the chart in `png` plotted: {"weeks", "series": [{"label", "counts"}], "marked"}."""
    for kind, body in png_chunks(png):
        if kind == b"tEXt":
            name, _, text = body.partition(b"\x00")
            if name.decode("latin-1") == SERIES_CHUNK:
                return dict(json.loads(text.decode("latin-1")))
    raise ValueError("the PNG carries no plotted series")
