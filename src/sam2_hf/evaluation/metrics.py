"""Region similarity J and boundary accuracy F, as the DAVIS 2017 and SA-V evaluators define them.

All functions take boolean masks with the frames on the first axis, ``(T, H, W)``, and return one
value per frame; a single ``(H, W)`` mask gives a 0-d result.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

BOUNDARY_TOLERANCE = 0.008  # fraction of the image diagonal


def region_similarity(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """J = |gt ∩ pred| / |gt ∪ pred| per frame; 1 where both masks are empty."""
    gt, pred = _check_pair(gt, pred)
    if gt.ndim == 2:
        return np.float64(_frame_j(gt, pred))
    return np.array([_frame_j(g, p) for g, p in zip(gt, pred)])


def boundary_map(masks: np.ndarray) -> np.ndarray:
    """Pixels that differ from their right, lower or lower-right neighbour.

    The last row compares only with its right neighbour, the last column only with the pixel
    below, and the bottom-right corner is never a boundary (the DAVIS ``seg2bmap`` convention).
    """
    m = masks.astype(bool, copy=False)
    boundary = np.zeros_like(m)
    inner = m[..., :-1, :-1]
    boundary[..., :-1, :-1] = (inner ^ m[..., :-1, 1:]) | (inner ^ m[..., 1:, :-1]) | (inner ^ m[..., 1:, 1:])
    boundary[..., -1, :-1] = m[..., -1, :-1] ^ m[..., -1, 1:]
    boundary[..., :-1, -1] = m[..., :-1, -1] ^ m[..., 1:, -1]
    return boundary


def disk(radius: int) -> np.ndarray:
    """Structuring element of all pixels within ``radius`` of the centre (skimage's ``disk``)."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.uint8)


def boundary_radius(height: int, width: int, tolerance: float = BOUNDARY_TOLERANCE) -> int:
    """Matching distance in pixels: ``ceil(tolerance * diagonal)`` (8 px at 480x854)."""
    return int(tolerance) if tolerance >= 1 else math.ceil(tolerance * math.hypot(height, width))


def boundary_f_measure(gt: np.ndarray, pred: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE) -> np.ndarray:
    """F = 2PR / (P + R) of boundary pixels matched within :func:`boundary_radius`, per frame.

    No predicted and no true boundary gives F = 1; exactly one of them empty gives F = 0.
    """
    gt, pred = _check_pair(gt, pred)
    single = gt.ndim == 2
    if single:
        gt, pred = gt[None], pred[None]
    kernel = disk(boundary_radius(*gt.shape[-2:], tolerance))
    scores = np.array([_frame_f(g, p, kernel) for g, p in zip(gt, pred)])
    return scores[0] if single else scores


def frame_scores(gt: np.ndarray, pred: np.ndarray, kernel: np.ndarray) -> tuple[float, float]:
    """``(J, F)`` of one frame's bool masks, ``kernel`` from :func:`disk` (no input checks: the
    fast path for scoring whole videos)."""
    return _frame_j(gt, pred), _frame_f(gt, pred, kernel)


def _frame_j(gt: np.ndarray, pred: np.ndarray) -> float:
    union = np.count_nonzero(gt | pred)
    return 1.0 if union == 0 else np.count_nonzero(gt & pred) / union


def _frame_f(gt: np.ndarray, pred: np.ndarray, kernel: np.ndarray) -> float:
    # Work on the bounding box of both masks plus one pixel: outside it every pixel is background
    # with background neighbours, so no boundary lies there and every match lies inside.
    occupied = gt | pred
    rows, cols = np.flatnonzero(occupied.any(axis=1)), np.flatnonzero(occupied.any(axis=0))
    if rows.size == 0:
        return 1.0
    ys = slice(max(rows[0] - 1, 0), min(rows[-1] + 2, gt.shape[0]))
    xs = slice(max(cols[0] - 1, 0), min(cols[-1] + 2, gt.shape[1]))
    gt_b, pred_b = boundary_map(gt[ys, xs]), boundary_map(pred[ys, xs])
    n_gt, n_pred = np.count_nonzero(gt_b), np.count_nonzero(pred_b)
    if n_gt == 0 or n_pred == 0:
        # Both empty: perfect. One empty: P or R is 0 and the other 1, so F = 0.
        return 1.0 if n_gt == n_pred else 0.0
    gt_dilated = cv2.dilate(gt_b.view(np.uint8), kernel).view(bool)
    pred_dilated = cv2.dilate(pred_b.view(np.uint8), kernel).view(bool)
    precision = np.count_nonzero(pred_b & gt_dilated) / n_pred
    recall = np.count_nonzero(gt_b & pred_dilated) / n_gt
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _check_pair(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    for name, masks in (("ground truth", gt), ("prediction", pred)):
        if masks.dtype != bool and not np.isin(masks, (0, 1)).all():
            raise ValueError(f"{name} masks must be binary (0/1 or bool)")
    return gt.astype(bool, copy=False), pred.astype(bool, copy=False)
