"""Coloured mask overlays."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

POSITIVE_COLOR = (40, 220, 60)
NEGATIVE_COLOR = (230, 40, 40)


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


def draw_prompts(image: np.ndarray, points=(), labels=(), boxes=(), box_colors=()) -> np.ndarray:
    """A copy of an ``(H, W, 3)`` uint8 image with its prompts drawn on it, so a person sees what
    the masks answer: clicks ``(x, y)`` as dots (green for label 1, red for 0, white rim) and
    boxes ``(x0, y0, x1, y1)`` as outlines in ``box_colors`` (one RGB colour per box)."""
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    radius = max(3, round(min(image.shape[:2]) / 60))
    for box, color in zip(boxes, box_colors, strict=True):
        draw.rectangle([float(v) for v in box], outline=tuple(int(c) for c in color), width=max(1, radius // 2))
    for (x, y), label in zip(points, labels, strict=True):
        draw.ellipse([x - radius, y - radius, x + radius, y + radius],
                     fill=POSITIVE_COLOR if label else NEGATIVE_COLOR, outline=(255, 255, 255))
    return np.asarray(canvas)
