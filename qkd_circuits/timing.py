"""Wall-clock timing of run stages, for the report's ``timings_s``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

StageCallback = Callable[[str], None]
"""Called with a stage's name when the stage starts (e.g. to show progress)."""


class Stopwatch:
    """Accumulates seconds per stage name: ``with clock("sifting"): ...``.

    Args:
        on_start: Called with the stage name as each stage starts.
    """

    def __init__(self, on_start: StageCallback | None = None) -> None:
        self.timings: dict[str, float] = {}
        self._on_start = on_start

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if self._on_start is not None:
            self._on_start(stage)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start
