"""The two evaluation protocols of the SAM 2 paper, as functions training and benchmarks reuse.

* Semi-supervised VOS: every object's ground-truth mask is given on the first frame, the model
  tracks them through the video.
* Interactive (offline) clicks: 1, 3 or 5 simulated clicks per object on the first frame, each at
  the centre of the largest error region of the prediction so far, then tracking.

Both return ``(T, H, W)`` uint8 maps of object ids, the DAVIS layout :func:`score_davis_video`
scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inference.session import VideoSession
from .clicks import next_click


def _label_maps(session) -> np.ndarray:
    """Track from frame 0 and paint each frame's masks into one id map (objects do not overlap:
    the session runs with ``non_overlap_masks``)."""
    frames = []
    for result in session.propagate(start_frame_idx=0):
        labels = np.zeros(session.video_size, np.uint8)
        for obj, mask in zip(result.object_ids, result.masks.cpu().numpy()):
            labels[mask] = obj
        frames.append(labels)
    return np.stack(frames)


def _object_ids(first_frame_labels: np.ndarray) -> list[int]:
    ids = [int(i) for i in np.unique(first_frame_labels) if i != 0]
    if not ids:
        raise ValueError("the first ground-truth frame holds no object")
    return ids


def semi_supervised(model, video: Any, first_frame_labels: np.ndarray, **session_options) -> np.ndarray:
    """Track the objects of ``first_frame_labels`` (an ``(H, W)`` id map of frame 0) through
    ``video`` from their masks; returns the predicted ``(T, H, W)`` id maps."""
    options = {"non_overlap_masks": True, **session_options}
    with VideoSession(model, video, **options) as session:
        for obj in _object_ids(first_frame_labels):
            session.add_mask(0, obj, first_frame_labels == obj)
        return _label_maps(session)


def simulate_clicks(session, first_frame_labels: np.ndarray, num_clicks: int) -> dict[int, list]:
    """Click each object ``num_clicks`` times on frame 0 of an open session, each click correcting
    the session's current mask; returns the clicks per object as ``(x, y, label)``."""
    clicks: dict[int, list] = {}
    for obj in _object_ids(first_frame_labels):
        gt = first_frame_labels == obj
        prediction = None
        clicks[obj] = []
        for _ in range(num_clicks):
            click = next_click(gt, prediction)
            if click is None:  # already perfect
                break
            clicks[obj].append((click.x, click.y, click.label))
            # Click on the pixel centre, as a user does.
            result = session.add_points(0, obj, [[click.x + 0.5, click.y + 0.5]], [click.label],
                                        clear_old_points=len(clicks[obj]) == 1)
            prediction = result.masks[result.object_ids.index(obj)].cpu().numpy()
    return clicks


def interactive(model, video: Any, first_frame_labels: np.ndarray, num_clicks: tuple[int, ...] = (1, 3, 5),
                **session_options) -> dict[int, np.ndarray]:
    """For each click budget, the ``(T, H, W)`` id maps predicted after that many simulated clicks
    per object on frame 0 (each budget starts from a clean session)."""
    options = {"non_overlap_masks": True, **session_options}
    predictions = {}
    with VideoSession(model, video, **options) as session:
        for budget in num_clicks:
            session.reset()
            simulate_clicks(session, first_frame_labels, budget)
            predictions[budget] = _label_maps(session)
    return predictions
