from __future__ import annotations

import numpy as np
import torch

from sam2_hf.training.losses import dice_loss, frame_loss, mask_iou, sigmoid_focal_loss
from sam2_hf.training.prompts import box_of, correction_clicks, first_frame_points


def test_focal_and_dice_of_known_values():
    logits = torch.tensor([[[0.0, 0.0]]])
    targets = torch.tensor([[[1.0, 0.0]]])
    # p = 0.5 everywhere: focal = alpha_t * 0.25 * ln 2 per pixel.
    expected = (0.25 * 0.25 * np.log(2) + 0.75 * 0.25 * np.log(2)) / 2
    assert torch.allclose(sigmoid_focal_loss(logits, targets), torch.tensor([[expected]], dtype=torch.float32))
    assert torch.allclose(dice_loss(logits, targets), torch.tensor([[1 - (2 * 0.5 + 1) / (1.0 + 1 + 1)]]))
    assert mask_iou(torch.tensor([[[5.0, -5.0]]]), targets).item() == 1.0


def test_only_the_best_candidate_is_trained_and_absent_objects_train_only_the_score():
    targets = torch.zeros(2, 4, 4)
    targets[0, :2] = 1  # object 0 visible, object 1 absent
    good = torch.where(targets[0] > 0, 10.0, -10.0)
    candidates = torch.stack([torch.stack([-good, good, torch.zeros(4, 4)]), torch.zeros(3, 4, 4)])
    candidates.requires_grad_(True)
    terms = frame_loss(candidates, torch.full((2, 3), 0.5), torch.tensor([[3.0], [-3.0]]), targets)
    terms["loss"].backward()
    assert terms["dice"] < 0.01 and terms["focal"] < 1e-3  # the good candidate of object 0 was chosen
    grad = candidates.grad
    assert grad[0, 0].abs().sum() == 0 and grad[0, 2].abs().sum() == 0  # the other candidates get nothing
    assert grad[1].abs().sum() == 0  # object 1 is absent: no mask loss
    expected_iou = (abs(0.5 - 0.0) + abs(0.5 - 1.0) + abs(0.5 - 0.0)) / 3 / 2  # object 0's three IoUs, over 2 objects
    assert torch.isclose(terms["iou"], torch.tensor(expected_iou))


def test_simulated_prompts_fall_where_they_should():
    rng = np.random.default_rng(0)
    targets = torch.zeros(2, 20, 30, dtype=torch.bool)
    targets[0, 5:10, 5:15] = True
    targets[1, 12:18, 20:28] = True
    coords, labels = first_frame_points("click", targets, rng)
    assert coords.shape == (2, 1, 2) and labels.tolist() == [[1], [1]]
    for (x, y), mask in zip(coords[:, 0].tolist(), targets):
        assert mask[int(y), int(x)]
    coords, labels = first_frame_points("box", targets, rng)
    assert labels.tolist() == [[2, 3], [2, 3]]
    x0, y0, x1, y1 = box_of(targets[0], rng, jitter=0.0)
    assert (x0, y0, x1, y1) == (5.0, 5.0, 15.0, 10.0)
    predicted = targets.clone()
    predicted[0, 5:10, 5:10] = False  # object 0 misses its left half: positive click there
    predicted[1, 0:10, 0:10] = True  # object 1 has a spurious blob: negative click there
    coords, labels = correction_clicks(predicted, targets, rng)
    assert labels.tolist() == [[1], [0]]
    (x, y), (x2, y2) = coords[0, 0].tolist(), coords[1, 0].tolist()
    assert 5 <= x < 10 and 5 <= y < 10 and x2 < 10 and y2 < 10
