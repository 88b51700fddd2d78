"""Simulated clicks of the interactive protocol: each click goes to the centre of the largest
error region, positive on a missed region, negative on a spurious one."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Click:
    x: int
    y: int
    label: int  # 1 positive (add the region), 0 negative (remove it)


def next_click(gt: np.ndarray, pred: np.ndarray | None) -> Click | None:
    """The click a user would make to correct ``pred`` towards ``gt`` (both ``(H, W)`` bool);
    ``pred=None`` means nothing is predicted yet. ``None`` when there is no error left.

    Among all connected regions (8-connectivity) of false negatives and false positives, take the
    largest; click its pixel farthest from the region's border (image borders count as border).
    """
    gt = np.asarray(gt, dtype=bool)
    pred = np.zeros_like(gt) if pred is None else np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape or gt.ndim != 2:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} must be the same (H, W)")
    best: tuple[int, np.ndarray, int] | None = None
    for label, error in ((1, gt & ~pred), (0, pred & ~gt)):
        if not error.any():
            continue
        count, regions, stats, _ = cv2.connectedComponentsWithStats(error.astype(np.uint8), connectivity=8)
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = int(stats[largest, cv2.CC_STAT_AREA])
        if best is None or area > best[0]:
            best = (area, regions == largest, label)
    if best is None:
        return None
    _, region, label = best
    padded = np.pad(region, 1).astype(np.uint8)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return Click(int(x), int(y), label)
