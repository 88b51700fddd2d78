from __future__ import annotations

import pytest
import torch

from sam2_hf import Sam2Model
from sam2_hf.inference.automatic import AutomaticMaskGenerator, box_nms, mask_boxes, point_grid, stability_score

from ..conftest import make_objects_visible, tiny_config


def test_point_grid_is_cell_centres():
    grid = point_grid(2, 10, 20)
    assert grid.tolist() == [[5.0, 2.5], [15.0, 2.5], [5.0, 7.5], [15.0, 7.5]]


def test_stability_score():
    logits = torch.tensor([[[-2.0, -0.5, 0.5, 2.0]]])
    # > +1: one pixel; > -1: three pixels.
    assert stability_score(logits, 0.0, 1.0).tolist() == pytest.approx([1 / 3])


def test_box_nms_drops_overlapping_lower_scores():
    boxes = torch.tensor([[0, 0, 9, 9], [1, 1, 9, 9], [20, 20, 29, 29]], dtype=torch.float32)
    assert box_nms(boxes, torch.tensor([0.5, 0.9, 0.7]), 0.7) == [1, 2]
    assert box_nms(boxes, torch.tensor([0.5, 0.9, 0.7]), 0.95) == [1, 2, 0]


def test_mask_boxes():
    masks = torch.zeros(2, 5, 6, dtype=torch.bool)
    masks[0, 1:3, 2:5] = True
    assert mask_boxes(masks).tolist() == [[2, 1, 4, 2], [0, 0, 0, 0]]


def test_generated_masks_are_distinct_and_filtered(image):
    torch.manual_seed(0)
    model = make_objects_visible(Sam2Model(tiny_config())).eval()
    loose = AutomaticMaskGenerator(model, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                                   box_nms_thresh=0.5).generate(image)
    assert loose and all(m.segmentation.shape == (96, 160) and m.area > 0 for m in loose)
    boxes = torch.tensor([m.box for m in loose], dtype=torch.float32)
    assert box_nms(boxes, torch.tensor([m.predicted_iou for m in loose]), 0.5) == list(range(len(loose)))
    strict = AutomaticMaskGenerator(model, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.999).generate(image)
    assert all(m.stability_score >= 0.999 for m in strict) and len(strict) <= len(loose) + 16
    assert AutomaticMaskGenerator(model, points_per_side=4, pred_iou_thresh=2.0).generate(image) == []
