"""The chart: a valid PNG of the expected size that plots exactly the counts it was given
(read back from the PNG, not from its pixels), drawn without a display or font downloads."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

from paperboy.trends import ChartData, ChartSeries, plotted_series, render_png
from paperboy.trends.chart import HEIGHT, WIDTH, png_chunks, png_size


def test_png_is_valid_sized_and_plots_the_counts() -> None:
    data = ChartData(
        title="Matched papers per week",
        weeks=("2025-W52", "2026-W01", "2026-W02"),
        series=(ChartSeries("LoRA", (2, 1, 2)), ChartSeries("diffusion", (0, 4, 3))),
        marked="2026-W01",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no font or backend warnings
        png = render_png(data)
    kinds = [kind for kind, _ in png_chunks(png)]  # CRCs checked
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    assert png_size(png) == (WIDTH, HEIGHT) == (1200, 675)
    drawn = plotted_series(png)
    assert drawn["weeks"] == list(data.weeks)
    assert drawn["series"] == [
        {"label": "LoRA", "counts": [2, 1, 2]},
        {"label": "diffusion", "counts": [0, 4, 3]},
    ]
    assert drawn["marked"] == "2026-W01"


def test_at_most_six_lines_and_an_empty_chart() -> None:
    series = tuple(ChartSeries(f"q{i}", (i, i + 1)) for i in range(9))
    png = render_png(ChartData("many", ("2026-W01", "2026-W02"), series))
    assert [s["label"] for s in plotted_series(png)["series"]] == [f"q{i}" for i in range(6)]
    empty = render_png(ChartData("none", ("2026-W01",), ()))
    assert plotted_series(empty)["series"] == [] and png_size(empty) == (1200, 675)


def test_a_corrupt_png_is_refused() -> None:
    png = bytearray(render_png(ChartData("x", ("2026-W01",), (ChartSeries("a", (1,)),))))
    png[40] ^= 0xFF
    with pytest.raises(ValueError):
        png_chunks(bytes(png))


def test_importing_the_trends_package_does_not_import_matplotlib() -> None:
    code = "import paperboy.trends, paperboy.cli, sys; print('matplotlib' in sys.modules)"
    env = {**os.environ, "MPLBACKEND": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
