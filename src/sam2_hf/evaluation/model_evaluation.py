"""J&F of a model on a dataset with the paper's protocols: simulated clicks on the first
annotated frame (1, 3, 5) or the first frame's mask, each object tracked through every frame and
scored on the annotated frames as the SA-V evaluator scores them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.sav import decode_masks, load_sav, read_frames
from ..modeling.video_model import Sam2VideoModel
from .protocols import interactive, semi_supervised
from .scoring import score_sav_object


def evaluate_model(model: Sam2VideoModel, val_data: str | Path, num_clicks: tuple[int, ...] = (1,), first_frame_mask: bool = False,
                   max_videos: int | None = None) -> dict[str, float]:
    """Mean J&F over the objects of the val/test-layout folder ``val_data``: simulated clicks on
    the first annotated frame (and, with ``first_frame_mask``, the first frame's mask), tracked
    through every frame, scored on the annotated ones as the SA-V evaluator does. Objects not
    visible on the first annotated frame cannot be clicked and are left out."""
    videos = load_sav(val_data)
    if max_videos is not None:
        videos = videos.select(range(min(max_videos, len(videos))))
    scores: dict[str, list[float]] = {f"{k}_click": [] for k in num_clicks}
    if first_frame_mask:
        scores["mask"] = []
    was_training = model.training
    model.eval()
    for row in videos:
        frames = read_frames(row, list(range(row["num_frames"])))
        first = row["frame_indices"][0]
        frames = frames[first:]
        gt = np.stack([decode_masks(row, i) for i in range(len(row["frame_indices"]))])  # (A, N, H, W)
        annotated = [t - first for t in row["frame_indices"]]
        labels = np.zeros(gt.shape[2:], np.uint8)
        for obj in range(gt.shape[1]):
            labels[gt[0, obj]] = obj + 1
        predictions = {f"{k}_click": maps for k, maps in interactive(model, frames, labels, num_clicks).items()}
        if first_frame_mask:
            predictions["mask"] = semi_supervised(model, frames, labels)
        for name, maps in predictions.items():
            for obj in range(gt.shape[1]):
                if not gt[0, obj].any():
                    continue
                score = score_sav_object(gt[:, obj], maps[annotated] == obj + 1)
                if score is not None:
                    scores[name].append((score.J + score.F) / 2)
    model.train(was_training)
    return {name: float(np.mean(values)) if values else float("nan") for name, values in scores.items()}
