"""The semi-supervised and interactive protocols, driven by a real session (tiny config)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_hf import Sam2VideoModel, VideoSession
from sam2_hf.evaluation import interactive, next_click, score_davis_video, semi_supervised, simulate_clicks

from ..conftest import make_objects_visible, tiny_config
from ..inference.test_session import make_frames


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return make_objects_visible(Sam2VideoModel(tiny_config()).eval())


@pytest.fixture(scope="module")
def video_and_labels():
    frames = make_frames(6)
    labels = np.zeros(frames.shape[:3], np.uint8)
    labels[np.all(frames == [230, 80, 40], axis=-1)] = 1
    labels[:, 38:46, 50:60] = 2
    return frames, labels


def test_next_click_targets_the_largest_error():
    gt = np.zeros((40, 40), bool)
    gt[5:25, 5:25] = True
    first = next_click(gt, None)
    assert first.label == 1 and (first.x, first.y) in [(14, 14), (14, 15), (15, 14), (15, 15)]
    prediction = gt.copy()
    prediction[30:38, 30:38] = True  # a spurious region, larger than the missed corner below
    prediction[5:8, 5:8] = False
    negative = next_click(gt, prediction)
    assert negative.label == 0 and 30 <= negative.x < 38 and 30 <= negative.y < 38
    assert next_click(gt, gt) is None


def test_semi_supervised(model, video_and_labels):
    frames, labels = video_and_labels
    predicted = semi_supervised(model, frames, labels[0])
    assert predicted.shape == labels.shape and predicted.dtype == np.uint8
    # The first frame's masks are the given ones (a mask prompt is taken as the answer).
    assert (predicted[0] == labels[0]).mean() > 0.97
    scores = score_davis_video(labels, predicted)
    assert set(scores) == {"1", "2"} and all(0 <= s.J <= 1 and 0 <= s.F <= 1 for s in scores.values())


def test_interactive_clicks_follow_the_errors(model, video_and_labels):
    frames, labels = video_and_labels
    with VideoSession(model, frames) as session:
        clicks = simulate_clicks(session, labels[0], num_clicks=3)
    assert set(clicks) == {1, 2}
    for obj, object_clicks in clicks.items():
        x, y, label = object_clicks[0]
        assert label == 1 and labels[0][y, x] == obj  # the first click lands inside the object
        assert 1 <= len(object_clicks) <= 3
    predictions = interactive(model, frames, labels[0], num_clicks=(1, 3))
    assert set(predictions) == {1, 3} and predictions[3].shape == labels.shape
