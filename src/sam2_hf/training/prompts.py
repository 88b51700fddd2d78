"""Simulated prompts for training: what a user would give on the first frame, and the clicks
that correct a later frame's mistakes (sampled uniformly in the error region, as SAM 2 trains)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ..inference.session import BOX_LABELS

PromptKind = Literal["mask", "click", "box"]


@dataclass
class PromptMix:
    """Probabilities of each first-frame prompt kind (normalised)."""

    mask: float = 0.5
    click: float = 0.25
    box: float = 0.25

    def sample(self, rng: np.random.Generator) -> PromptKind:
        weights = np.array([self.mask, self.click, self.box], dtype=np.float64)
        return ("mask", "click", "box")[int(rng.choice(3, p=weights / weights.sum()))]


def random_point_in(region: torch.Tensor, rng: np.random.Generator) -> tuple[float, float] | None:
    """A pixel centre ``(x, y)`` drawn uniformly from a ``(H, W)`` bool region."""
    pixels = torch.nonzero(region)
    if len(pixels) == 0:
        return None
    y, x = pixels[int(rng.integers(len(pixels)))].tolist()
    return x + 0.5, y + 0.5


def box_of(mask: torch.Tensor, rng: np.random.Generator, jitter: float = 0.1) -> list[float]:
    """The mask's bounding box ``x0, y0, x1, y1`` with each side moved by up to ``jitter`` of its
    size (boxes people draw are not tight)."""
    rows, cols = torch.nonzero(mask.any(1)).flatten(), torch.nonzero(mask.any(0)).flatten()
    x0, x1, y0, y1 = float(cols[0]), float(cols[-1] + 1), float(rows[0]), float(rows[-1] + 1)
    width, height = x1 - x0, y1 - y0
    noise = rng.uniform(-jitter, jitter, 4) * np.array([width, height, width, height])
    limit_y, limit_x = mask.shape
    return [float(np.clip(x0 + noise[0], 0, limit_x)), float(np.clip(y0 + noise[1], 0, limit_y)),
            float(np.clip(x1 + noise[2], 0, limit_x)), float(np.clip(y1 + noise[3], 0, limit_y))]


def first_frame_points(kind: PromptKind, targets: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Clicks ``(N, P, 2)`` and labels ``(N, P)`` for ``N`` objects' ``(N, H, W)`` masks: one
    click inside each object, or its box as two corner points labelled 2 and 3."""
    coords, labels = [], []
    for mask in targets.bool():
        if kind == "click":
            coords.append([random_point_in(mask, rng)])
            labels.append([1])
        else:
            x0, y0, x1, y1 = box_of(mask, rng)
            coords.append([(x0, y0), (x1, y1)])
            labels.append(list(BOX_LABELS))
    return torch.tensor(coords, dtype=torch.float32), torch.tensor(labels, dtype=torch.long)


def correction_clicks(predicted: torch.Tensor, targets: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One click per object ``(N, 1, 2)`` + labels ``(N, 1)``: positive inside a missed part or
    negative inside a spurious one (whichever error is larger), uniformly in that region. An
    object with no error gets a positive click inside itself (or a negative one anywhere, if
    absent), which changes nothing a correct model should keep."""
    coords, labels = [], []
    for pred, gt in zip(predicted.bool(), targets.bool()):
        missed, spurious = gt & ~pred, pred & ~gt
        region, label = (missed, 1) if missed.sum() >= spurious.sum() else (spurious, 0)
        point = random_point_in(region, rng)
        if point is None:
            region, label = (gt, 1) if gt.any() else (~gt, 0)
            point = random_point_in(region, rng)
        coords.append([point])
        labels.append([label])
    return torch.tensor(coords, dtype=torch.float32), torch.tensor(labels, dtype=torch.long)
