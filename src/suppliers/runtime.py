"""Process-wide settings for a process that serves the API (`suppliers serve`), not for tests or tools.

Python's cyclic garbage collector runs a young-generation pass every 700 net allocations of
container objects, and every pass walks what is young. A request allocates thousands (a span alone
is dozens: its attributes, context, events, the exported copy), nearly all freed at once by
reference counting, so those passes find almost nothing and cost CPU on every few requests. Once the
app is built, its long-lived objects (modules, routes, pools, instruments) are moved out of the
collector's sight (``gc.freeze``) and the young generation may grow larger before a pass. Cycles
are still collected, only in fewer, larger passes. `python -m bench.compare` measures the effect.
"""

from __future__ import annotations

import gc

# Young-generation threshold, and how many young passes before each older generation's.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_garbage_collector() -> None:
    """Call once the app is built: what exists now lives as long as the process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
