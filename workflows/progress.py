"""Progress of a long command (an import, the demo), reported to a progress bar.

The command says how far it has got, in percent; the callback (``click.progressbar``'s
``update``, say) receives the increments, which add up to exactly 100 by the end, each of them
greater than zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ProgressCallback = Callable[[int], Any]


class Progress:
    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.done = 0

    def to(self, percent: int) -> None:
        """Move the bar to ``percent`` (never backwards, never past 100)."""
        step = min(percent, 100) - self.done
        if step > 0:
            self.done += step
            if self.callback is not None:
                self.callback(step)

    def rows(self, start: int, end: int, total: int) -> Callable[[int], None]:
        """A callback for row ``index`` of ``total`` moving the bar from ``start`` to ``end``."""
        return lambda index: self.to(start + (end - start) * (index + 1) // max(total, 1))

    def finish(self) -> None:
        self.to(100)
