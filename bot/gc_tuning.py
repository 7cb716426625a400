"""The garbage collector, set for a process that fans out thousands of messages.

A fan-out allocates millions of short-lived containers (each digest part is about 900
JSON objects when read back from the outbox), and CPython's default thresholds
(700, 10, 10) then run a collection of the oldest generation every few seconds, each one
walking every object the process holds: modules, settings, the plan's papers and
channels. At 10,000 channels that was a tenth of the CPU of the whole morning
(bench/fanout.py; docs/benchmarks.md, "Fan-out").

So, once per process, when a long-running role starts (`App.background`) or `paperboy
deliver` runs (`App.deliver`; the composition root calls it, library code never does):
what exists after start-up (imports, settings, adapters) is collected once and frozen
(`gc.freeze`: kept out of every later collection; still freed by reference counting when
its last reference goes, but a reference cycle through a frozen object is never
collected: start-up objects live as long as the process anyway), and the youngest
generation is collected after 20,000 allocations instead of 700. Garbage in cycles made
later is still collected, only less often.
"""

from __future__ import annotations

import gc
import threading

#: (youngest, middle, oldest): see `gc.set_threshold`.
THRESHOLDS = (20_000, 20, 20)

_done = False
_lock = threading.Lock()


def tune_for_service() -> bool:
    """Collect and freeze what start-up made, and raise the thresholds; once per process
    (later calls do nothing and return False)."""
    global _done
    with _lock:
        if _done:
            return False
        _done = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return True
