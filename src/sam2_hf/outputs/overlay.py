"""Coloured mask overlays."""

from __future__ import annotations

import numpy as np


def palette(num_colors: int) -> np.ndarray:
    """``(num_colors, 3)`` uint8 colours, distinct for neighbouring object ids (golden-ratio hues)."""
    hues = (np.arange(num_colors) * 0.618033988749895) % 1.0
    rgb = np.stack([np.clip(np.abs((hues * 6 + shift) % 6 - 3) - 1, 0, 1) for shift in (0, 4, 2)], axis=-1)
    return (55 + 200 * rgb).astype(np.uint8)


def object_colors(object_ids: list[int]) -> np.ndarray:
    """The colour of each object id (id ``k`` gets ``palette[k - 1]``, as in the indexed PNGs)."""
    return palette(max(object_ids, default=0))[np.asarray(object_ids, dtype=int) - 1]


def overlay_masks(image: np.ndarray, masks: np.ndarray, alpha: float = 0.5, colors: np.ndarray | None = None) -> np.ndarray:
    """Blend boolean ``masks`` ``(N, H, W)`` onto an ``(H, W, 3)`` uint8 image, one colour each
    (``colors`` ``(N, 3)``, default: the palette in order)."""
    if masks.ndim != 3 or masks.shape[1:] != image.shape[:2]:
        raise ValueError(f"masks must be (N, {image.shape[0]}, {image.shape[1]}), got {masks.shape}")
    out = image.astype(np.float32)
    for mask, color in zip(masks.astype(bool), palette(len(masks)) if colors is None else colors):
        out[mask] = (1 - alpha) * out[mask] + alpha * color
    return out.round().astype(np.uint8)
