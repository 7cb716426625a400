"""paperboy.gc_tuning: once per process, start-up frozen, thresholds raised."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_tuning_freezes_start_up_once_and_raises_the_thresholds() -> None:
    # In a fresh interpreter: the collector's settings are process-wide.
    code = textwrap.dedent(
        """
        import gc
        from paperboy.gc_tuning import THRESHOLDS, tune_for_service

        assert gc.get_freeze_count() == 0
        cycle = []
        cycle.append(cycle)  # garbage in a cycle: collected, not frozen
        del cycle
        assert tune_for_service() is True
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert gc.get_threshold() == THRESHOLDS
        assert tune_for_service() is False  # once per process
        assert gc.get_freeze_count() == frozen
        later = []
        later.append(later)
        del later
        assert gc.collect() >= 1  # cycles made later are still collected
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
