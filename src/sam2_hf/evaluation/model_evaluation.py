"""J&F of a model on a dataset with the paper's protocols: simulated clicks on the first
annotated frame (1, 3, 5) or the first frame's mask, each object tracked through every frame and
scored on the annotated frames as the SA-V evaluator scores them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.sav import decode_masks, load_sav, read_frames
from ..modeling.video_model import Sam2VideoModel
from .protocols import interactive, semi_supervised
from .scoring import score_sav_object


@dataclass
class AnnotatedVideo:
    """One validation video as the protocols take it: from its first annotated frame on."""

    frames: np.ndarray  # (T, H, W, 3) uint8, frame 0 the first annotated one
    truth: np.ndarray  # (A, N, H, W) bool: every object on each annotated frame
    annotated: list[int]  # the annotated frames' indices into ``frames``
    first_frame_labels: np.ndarray  # (H, W) uint8 id map of frame 0: object n is n + 1


def load_videos(val_data: str | Path, max_videos: int | None = None):
    """The first ``max_videos`` videos of a val/test-layout folder (all with None)."""
    videos = load_sav(val_data)
    return videos if max_videos is None else videos.select(range(min(max_videos, len(videos))))


def annotated_video(row: dict) -> AnnotatedVideo:
    """Decode a dataset row's frames from its first annotated one on, and its masks."""
    first = row["frame_indices"][0]
    frames = read_frames(row, list(range(first, row["num_frames"])))
    truth = np.stack([decode_masks(row, i) for i in range(len(row["frame_indices"]))])
    labels = np.zeros(truth.shape[2:], np.uint8)
    for obj in range(truth.shape[1]):
        labels[truth[0, obj]] = obj + 1
    return AnnotatedVideo(frames, truth, [t - first for t in row["frame_indices"]], labels)


def evaluate_model(model: Sam2VideoModel, val_data: str | Path, num_clicks: tuple[int, ...] = (1,), first_frame_mask: bool = False,
                   max_videos: int | None = None) -> dict[str, float]:
    """Mean J&F over the objects of the val/test-layout folder ``val_data``: simulated clicks on
    the first annotated frame (and, with ``first_frame_mask``, the first frame's mask), tracked
    through every frame, scored on the annotated ones as the SA-V evaluator does. Objects not
    visible on the first annotated frame cannot be clicked and are left out."""
    scores: dict[str, list[float]] = {f"{k}_click": [] for k in num_clicks}
    if first_frame_mask:
        scores["mask"] = []
    was_training = model.training
    model.eval()
    for row in load_videos(val_data, max_videos):
        video = annotated_video(row)
        gt, labels = video.truth, video.first_frame_labels
        predictions = {f"{k}_click": maps for k, maps in interactive(model, video.frames, labels, num_clicks).items()}
        if first_frame_mask:
            predictions["mask"] = semi_supervised(model, video.frames, labels)
        for name, maps in predictions.items():
            for obj in range(gt.shape[1]):
                if not gt[0, obj].any():
                    continue
                score = score_sav_object(gt[:, obj], maps[video.annotated] == obj + 1)
                if score is not None:
                    scores[name].append((score.J + score.F) / 2)
    model.train(was_training)
    return {name: float(np.mean(values)) if values else float("nan") for name, values in scores.items()}
