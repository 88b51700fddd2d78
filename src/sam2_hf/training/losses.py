"""SAM 2's training losses for one frame's predictions.

Per object: focal + dice on the mask logits (with several candidates, only the candidate with the
lowest focal + dice is trained, so the decoder may keep other interpretations in the other
slots), L1 between each candidate's predicted IoU and its real IoU, and BCE on the object score.
Mask and IoU terms count only where the object is visible in the target. Weights are SAM 2's
(focal 20, dice 1, IoU 1, object score 1); every term is averaged over objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

FOCAL_ALPHA, FOCAL_GAMMA = 0.25, 2.0


@dataclass
class LossWeights:
    focal: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    object_score: float = 1.0


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Focal loss averaged over pixels: ``(..., H, W)`` -> ``(...)``."""
    probabilities = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_true = probabilities * targets + (1 - probabilities) * (1 - targets)
    alpha = FOCAL_ALPHA * targets + (1 - FOCAL_ALPHA) * (1 - targets)
    return (alpha * (1 - p_true) ** FOCAL_GAMMA * bce).flatten(-2).mean(-1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice (smoothed by 1): ``(..., H, W)`` -> ``(...)``."""
    probabilities = torch.sigmoid(logits).flatten(-2)
    targets = targets.flatten(-2)
    numerator = 2 * (probabilities * targets).sum(-1)
    denominator = probabilities.sum(-1) + targets.sum(-1)
    return 1 - (numerator + 1) / (denominator + 1)


def mask_iou(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU of the thresholded masks with the targets (1 when both are empty)."""
    predicted = (logits > 0).flatten(-2)
    targets = targets.flatten(-2) > 0.5
    intersection = (predicted & targets).sum(-1).float()
    union = (predicted | targets).sum(-1).float()
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))


def frame_loss(
    candidate_masks: torch.Tensor,
    candidate_iou_scores: torch.Tensor,
    object_score_logits: torch.Tensor,
    targets: torch.Tensor,
    weights: LossWeights = LossWeights(),
) -> dict[str, torch.Tensor]:
    """Losses of ``N`` objects on one frame.

    Args:
        candidate_masks: ``(N, K, H, W)`` mask logits at the targets' resolution.
        candidate_iou_scores: ``(N, K)`` predicted IoU of each candidate.
        object_score_logits: ``(N, 1)``.
        targets: ``(N, H, W)`` ground-truth masks (0/1 floats).

    Returns:
        the weighted ``loss`` and its unweighted terms.
    """
    targets = targets.float()
    visible = targets.flatten(1).amax(1)  # (N,)
    expanded = targets[:, None].expand_as(candidate_masks)
    focal = sigmoid_focal_loss(candidate_masks.float(), expanded)  # (N, K)
    dice = dice_loss(candidate_masks.float(), expanded)
    best = (focal * weights.focal + dice * weights.dice).argmin(dim=1)
    rows = torch.arange(len(targets), device=targets.device)
    real_iou = mask_iou(candidate_masks.detach(), expanded)
    iou = (candidate_iou_scores.float() - real_iou).abs().mean(dim=1)
    object_score = F.binary_cross_entropy_with_logits(object_score_logits.float().flatten(), visible, reduction="none")
    count = max(len(targets), 1)
    terms = {
        "focal": (focal[rows, best] * visible).sum() / count,
        "dice": (dice[rows, best] * visible).sum() / count,
        "iou": (iou * visible).sum() / count,
        "object_score": object_score.sum() / count,
    }
    terms["loss"] = sum(getattr(weights, name) * value for name, value in terms.items())
    return terms
