"""Which memories a frame attends to, the tracked-frame runs, and mask post-processing."""

from __future__ import annotations

import torch

from sam2_hf.inference.memory_bank import select_object_pointers, select_spatial_memories
from sam2_hf.inference.postprocess import fill_holes, keep_only_top_object, remove_sprinkles
from sam2_hf.inference.tracked_frames import TrackedFrames


def test_spatial_memories_forward_and_reverse():
    tracked = set(range(0, 30))
    # Prompted frames first (in prompting order, last temporal index), then 6 previous frames, oldest first.
    assert select_spatial_memories(20, [12, 3], tracked, 7, reverse=False) == [
        (12, 6), (3, 6), (14, 5), (15, 4), (16, 3), (17, 2), (18, 1), (19, 0)
    ]
    assert select_spatial_memories(20, [25], tracked, 7, reverse=True) == [
        (25, 6), (26, 5), (25, 4), (24, 3), (23, 2), (22, 1), (21, 0)
    ]
    # Frames never tracked are skipped, not padded.
    assert select_spatial_memories(3, [0], {1, 2}, 7, reverse=False) == [(0, 6), (1, 1), (2, 0)]


def test_object_pointers():
    tracked = set(range(1, 40))
    pointers, max_distance = select_object_pointers(30, [0, 35], tracked, False, 16, None, signed_distance=True)
    # Only prompted frames up to the current one; then 15 previous frames.
    assert pointers[0] == (0, 30) and all(t != 35 for t, _ in pointers)
    assert pointers[1:] == [(30 - d, d) for d in range(1, 16)]
    assert max_distance == 15
    reverse, _ = select_object_pointers(30, [0, 35], tracked, True, 16, 40, signed_distance=True)
    assert reverse[0] == (35, 5) and reverse[1] == (31, 1)
    # A short video limits the number of pointers and their normalisation.
    short, max_distance = select_object_pointers(4, [0], {1, 2, 3}, False, 16, 5, signed_distance=False)
    assert short == [(0, 4), (3, 1), (2, 2), (1, 3)] and max_distance == 4


def test_tracked_frames_runs():
    frames = TrackedFrames()
    for t in range(100):
        frames.add(t, reverse=False)
    for t in range(50, 40, -1):
        frames.add(t, reverse=True)
    assert frames.get(10) is False and frames.get(45) is True and frames.get(60) is False
    assert frames.get(100) is None and len(frames) == 100
    assert len(frames._runs) == 3  # a few runs, not a hundred entries
    frames.discard(45)
    assert 45 not in frames and 44 in frames and 46 in frames
    frames.add(45, reverse=True)
    assert len(frames._runs) == 3


def test_fill_holes_and_sprinkles():
    logits = torch.full((1, 1, 16, 16), 5.0)
    logits[0, 0, 4, 4] = -3.0  # a one-pixel hole
    logits[0, 0, 8:14, 8:14] = -3.0  # a 36-pixel hole
    filled = fill_holes(logits, max_area=8)
    assert filled[0, 0, 4, 4] == 0.1 and (filled[0, 0, 8:14, 8:14] == -3.0).all()
    assert torch.equal(fill_holes(logits, 0), logits)
    specks = torch.full((1, 1, 16, 16), -5.0)
    specks[0, 0, 2, 2] = 4.0
    specks[0, 0, 8:12, 8:12] = 4.0
    cleaned = remove_sprinkles(specks, max_area=4)
    assert cleaned[0, 0, 2, 2] < 0 and (cleaned[0, 0, 8:12, 8:12] == 4.0).all()


def test_non_overlap_keeps_the_top_object():
    logits = torch.tensor([[[[3.0, -1.0]]], [[[1.0, 2.0]]]])
    out = keep_only_top_object(logits)
    assert out[0, 0, 0].tolist() == [3.0, -10.0] and out[1, 0, 0].tolist() == [-10.0, 2.0]
