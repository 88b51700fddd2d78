"""J and F: hand-checkable cases, properties, and agreement with a from-the-definition reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sam2_hf.evaluation import boundary_f_measure, boundary_map, boundary_radius, region_similarity


def square(shape, top, left, size):
    mask = np.zeros(shape, bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_identical_masks_score_one():
    mask = square((48, 64), 10, 10, 12)
    assert region_similarity(mask, mask) == 1.0 and boundary_f_measure(mask, mask) == 1.0


def test_disjoint_masks_score_zero():
    a, b = square((48, 64), 2, 2, 8), square((48, 64), 30, 40, 8)
    assert region_similarity(a, b) == 0.0 and boundary_f_measure(a, b) == 0.0


def test_one_pixel_shift():
    """A 10x10 square moved one column: J = 90 / 110; every boundary pixel stays within the
    tolerance (radius 1 here), so F = 1."""
    shape = (40, 60)
    assert boundary_radius(*shape) == 1
    a, b = square(shape, 10, 10, 10), square(shape, 10, 11, 10)
    assert region_similarity(a, b) == pytest.approx(90 / 110)
    assert boundary_f_measure(a, b) == 1.0


def test_half_of_the_boundary_found():
    """Ground truth: two far-apart squares; prediction: one of them. P = 1, R = 1/2, F = 2/3."""
    shape = (60, 80)
    gt = square(shape, 5, 5, 10) | square(shape, 40, 60, 10)
    pred = square(shape, 5, 5, 10)
    assert boundary_f_measure(gt, pred) == pytest.approx(2 / 3)
    assert region_similarity(gt, pred) == pytest.approx(0.5)


def test_empty_conventions():
    empty, full = np.zeros((20, 30), bool), square((20, 30), 5, 5, 5)
    assert region_similarity(empty, empty) == 1.0 and boundary_f_measure(empty, empty) == 1.0
    assert region_similarity(empty, full) == 0.0 and boundary_f_measure(empty, full) == 0.0
    assert region_similarity(full, empty) == 0.0 and boundary_f_measure(full, empty) == 0.0


def test_tolerance_is_eight_pixels_at_480p():
    assert boundary_radius(480, 854) == 8


def test_frames_are_scored_independently():
    a, b = square((30, 40), 5, 5, 10), square((30, 40), 5, 8, 10)
    stack_gt, stack_pred = np.stack([a, a, b]), np.stack([a, b, b])
    assert region_similarity(stack_gt, stack_pred).tolist() == [1.0, region_similarity(a, b), 1.0]
    assert boundary_f_measure(stack_gt, stack_pred).shape == (3,)


def test_bad_input():
    with pytest.raises(ValueError, match="differ in shape"):
        region_similarity(np.zeros((3, 4), bool), np.zeros((4, 3), bool))
    with pytest.raises(ValueError, match="binary"):
        boundary_f_measure(np.full((3, 4), 2), np.zeros((3, 4), int))


# --- an independent implementation, written from the published definitions -----------------

def reference_j(gt, pred):
    inter = sum(1 for g, p in zip(gt.flat, pred.flat) if g and p)
    union = sum(1 for g, p in zip(gt.flat, pred.flat) if g or p)
    return 1.0 if union == 0 else inter / union


def reference_boundary(mask):
    h, w = mask.shape
    out = np.zeros_like(mask)
    for y in range(h):
        for x in range(w):
            if y == h - 1 and x == w - 1:
                continue
            if y == h - 1:
                neighbours = [mask[y, x + 1]]
            elif x == w - 1:
                neighbours = [mask[y + 1, x]]
            else:
                neighbours = [mask[y, x + 1], mask[y + 1, x], mask[y + 1, x + 1]]
            out[y, x] = any(n != mask[y, x] for n in neighbours)
    return out


def reference_f(gt, pred, tolerance=0.008):
    h, w = gt.shape
    radius = math.ceil(tolerance * math.sqrt(h * h + w * w))
    gt_b, pred_b = np.argwhere(reference_boundary(gt)), np.argwhere(reference_boundary(pred))
    if len(gt_b) == 0 and len(pred_b) == 0:
        return 1.0
    if len(gt_b) == 0 or len(pred_b) == 0:
        return 0.0

    def matched(points, targets):
        return sum(1 for p in points if any(((p - t) ** 2).sum() <= radius**2 for t in targets))

    precision = matched(pred_b, gt_b) / len(pred_b)
    recall = matched(gt_b, pred_b) / len(gt_b)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def blobs(seed, shape, count):
    """Random unions of rectangles: masks with real boundaries, holes and touching edges."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, bool)
    for _ in range(count):
        y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        mask[y : y + rng.integers(1, shape[0] // 2), x : x + rng.integers(1, shape[1] // 2)] ^= True
    return mask


@pytest.mark.parametrize("tolerance", [0.008, 0.05])
@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_the_reference_definitions(seed, tolerance):
    shape = (31, 47)
    gt, pred = blobs(seed, shape, 4), blobs(seed + 100, shape, 4)
    pred |= gt & blobs(seed + 200, shape, 2)  # partial overlap
    assert abs(region_similarity(gt, pred) - reference_j(gt, pred)) <= 1e-6
    assert abs(boundary_f_measure(gt, pred, tolerance) - reference_f(gt, pred, tolerance)) <= 1e-6
    assert (boundary_map(gt) == reference_boundary(gt)).all()


masks = arrays(bool, (2, 12, 17), elements=st.booleans())


@settings(max_examples=60, deadline=None)
@given(masks)
def test_properties(pair):
    a, b = pair
    j, f = region_similarity(a, b), boundary_f_measure(a, b)
    assert 0.0 <= j <= 1.0 and 0.0 <= f <= 1.0
    assert j == region_similarity(b, a) and f == pytest.approx(boundary_f_measure(b, a))
    assert region_similarity(a, a) == 1.0 and boundary_f_measure(a, a) == 1.0
    # J is 1 exactly when the masks are equal.
    assert (j == 1.0) == bool((a == b).all())
