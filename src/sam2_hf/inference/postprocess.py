"""Per-frame clean-up of mask logits: small holes and specks, and overlap between objects."""

from __future__ import annotations

import cv2
import numpy as np
import torch

HOLE_FILL_LOGIT = 0.1  # a filled hole becomes just-foreground, as in the reference
SPRINKLE_LOGIT = -0.1


def _small_components(binary: np.ndarray, max_area: int) -> np.ndarray:
    """Pixels of 8-connected components of ``binary`` (H, W) with at most ``max_area`` pixels."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    small = np.zeros(count, bool)
    small[1:] = stats[1:, cv2.CC_STAT_AREA] <= max_area
    return small[labels]


def _replace_small_components(logits: torch.Tensor, max_area: int, foreground: bool, value: float) -> torch.Tensor:
    if max_area <= 0:
        return logits
    masks = (logits > 0) if foreground else (logits <= 0)
    flat = masks.reshape(-1, *masks.shape[-2:]).cpu().numpy()
    small = np.stack([_small_components(m, max_area) for m in flat]).reshape(masks.shape)
    return torch.where(torch.from_numpy(small).to(logits.device), torch.tensor(value, dtype=logits.dtype, device=logits.device), logits)


def fill_holes(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Background regions of at most ``max_area`` pixels (8-connected) become foreground
    (logit 0.1), in logits ``(..., H, W)``; what the reference does with its CUDA extension."""
    return _replace_small_components(logits, max_area, foreground=False, value=HOLE_FILL_LOGIT)


def remove_sprinkles(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Foreground specks of at most ``max_area`` pixels become background (logit -0.1)."""
    return _replace_small_components(logits, max_area, foreground=True, value=SPRINKLE_LOGIT)


def keep_only_top_object(logits: torch.Tensor) -> torch.Tensor:
    """Non-overlap across objects ``(N, 1, H, W)``: where an object is not the highest scoring one,
    its logit is capped at -10."""
    if logits.shape[0] <= 1:
        return logits
    winner = logits.argmax(dim=0, keepdim=True)
    is_winner = winner == torch.arange(logits.shape[0], device=logits.device)[:, None, None, None]
    return torch.where(is_winner, logits, logits.clamp(max=-10.0))
