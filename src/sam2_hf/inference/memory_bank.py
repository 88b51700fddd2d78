"""The memory bank of one object: what it remembers of each frame, and which of those memories a
frame attends to (the rules of the reference video predictor)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class FrameMemory:
    """What an object keeps of one frame it was segmented on."""

    low_res_masks: torch.Tensor  # (1, 1, 4h, 4w) logits, after hole filling
    object_pointer: torch.Tensor  # (1, C)
    object_score_logits: torch.Tensor  # (1, 1)
    memory: torch.Tensor | None = None  # (1, D, h, w), stored in bfloat16; None until encoded


def select_spatial_memories(
    frame_idx: int, conditioning: list[int], tracked: set[int] | dict, num_maskmem: int, reverse: bool
) -> list[tuple[int, int]]:
    """``(frame, temporal_index)`` of the memories frame ``frame_idx`` attends to.

    Every conditioning (prompted) frame, in the order they were prompted, with the last temporal
    index; then the ``num_maskmem - 1`` frames before it (after it when tracking in reverse), the
    oldest first, where those were tracked. Frame ``k`` steps away gets index ``k - 1``.
    """
    selected = [(t, num_maskmem - 1) for t in conditioning]
    for steps_back in range(num_maskmem - 1, 0, -1):
        t = frame_idx + steps_back if reverse else frame_idx - steps_back
        if t in tracked:
            selected.append((t, steps_back - 1))
    return selected


def select_object_pointers(
    frame_idx: int,
    conditioning: list[int],
    tracked: set[int] | dict,
    reverse: bool,
    max_pointers: int,
    num_frames: int | None,
    signed_distance: bool,
) -> tuple[list[tuple[int, int]], int]:
    """``(frame, distance)`` of the object pointers frame ``frame_idx`` attends to, and the
    distance that normalises their temporal encoding.

    Conditioning frames up to the current one (from it on, in reverse), with their signed (or
    absolute) distance; then tracked frames 1, 2, ... steps back, up to ``max_pointers`` in all
    (fewer in videos shorter than that).
    """
    limit = max_pointers if num_frames is None else min(num_frames, max_pointers)
    sign = -1 if reverse else 1
    pointers = [
        (t, (frame_idx - t) * sign if signed_distance else abs(frame_idx - t))
        for t in conditioning
        if (t >= frame_idx if reverse else t <= frame_idx)
    ]
    for steps_back in range(1, limit):
        t = frame_idx + steps_back if reverse else frame_idx - steps_back
        if t < 0 or (num_frames is not None and t >= num_frames):
            break
        if t in tracked:
            pointers.append((t, steps_back))
    return pointers, max(limit - 1, 1)


class ObjectMemoryBank:
    """Conditioning (prompted) frames, kept for good, and tracked frames, kept while a frame still
    to come can attend to them.

    ``pending`` holds results of prompts not yet committed: like the reference, a new prompt's
    result is seen by other frames only once tracking starts (:meth:`commit_pending`).
    """

    def __init__(self) -> None:
        self.conditioning: dict[int, FrameMemory] = {}
        self.tracked: dict[int, FrameMemory] = {}
        self.pending: dict[int, tuple[FrameMemory, bool]] = {}  # frame -> (memory, is_conditioning)

    def latest(self, frame_idx: int) -> FrameMemory | None:
        """This object's current result on a frame: a pending prompt result first."""
        if frame_idx in self.pending:
            return self.pending[frame_idx][0]
        return self.conditioning.get(frame_idx) or self.tracked.get(frame_idx)

    def commit_pending(self) -> list[tuple[int, FrameMemory]]:
        """Move pending results into the bank; returns those whose memory must still be encoded."""
        to_encode = []
        for conditioning_first in (False, True):
            for frame_idx, (entry, is_conditioning) in list(self.pending.items()):
                if is_conditioning != conditioning_first:
                    continue
                (self.conditioning if is_conditioning else self.tracked)[frame_idx] = entry
                if entry.memory is None:
                    to_encode.append((frame_idx, entry))
        self.pending.clear()
        for frame_idx in self.conditioning:
            self.tracked.pop(frame_idx, None)
        return to_encode

    def forget_tracked_before(self, frame_idx: int, reverse: bool, horizon: int) -> None:
        """Drop tracked frames that no frame from ``frame_idx`` on (in the tracking direction)
        can attend to: those more than ``horizon`` frames behind it."""
        for t in list(self.tracked):
            if (t > frame_idx + horizon) if reverse else (t < frame_idx - horizon):
                del self.tracked[t]

    def clear(self) -> None:
        self.conditioning.clear()
        self.tracked.clear()
        self.pending.clear()
