"""Which frames an object has been tracked on, and in which direction, stored as runs of frames so
that an endless stream costs a few integers, not one entry per frame."""

from __future__ import annotations

import bisect


class TrackedFrames:
    def __init__(self) -> None:
        self._runs: list[list] = []  # [first, last, reverse], sorted and disjoint

    def _find(self, frame: int) -> int | None:
        i = bisect.bisect_right(self._runs, frame, key=lambda run: run[0]) - 1
        return i if i >= 0 and self._runs[i][1] >= frame else None

    def get(self, frame: int) -> bool | None:
        """The direction (``True`` = reverse) the frame was last tracked in, or ``None``."""
        i = self._find(frame)
        return None if i is None else self._runs[i][2]

    def __contains__(self, frame: int) -> bool:
        return self._find(frame) is not None

    def discard(self, frame: int) -> None:
        i = self._find(frame)
        if i is None:
            return
        first, last, reverse = self._runs.pop(i)
        pieces = [[first, frame - 1, reverse], [frame + 1, last, reverse]]
        for piece in reversed(pieces):
            if piece[0] <= piece[1]:
                self._runs.insert(i, piece)

    def add(self, frame: int, reverse: bool) -> None:
        if self.get(frame) == reverse:
            return
        self.discard(frame)
        i = bisect.bisect_right(self._runs, frame, key=lambda run: run[0])
        self._runs.insert(i, [frame, frame, reverse])
        # Merge with the neighbours when they touch and go the same way.
        if i + 1 < len(self._runs) and self._runs[i + 1][0] == frame + 1 and self._runs[i + 1][2] == reverse:
            self._runs[i][1] = self._runs.pop(i + 1)[1]
        if i > 0 and self._runs[i - 1][1] == frame - 1 and self._runs[i - 1][2] == reverse:
            self._runs[i - 1][1] = self._runs.pop(i)[1]

    def clear(self) -> None:
        self._runs.clear()

    def __len__(self) -> int:
        return sum(last - first + 1 for first, last, _ in self._runs)
