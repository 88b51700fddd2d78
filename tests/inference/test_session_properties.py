"""`VideoSession` under random use: any sequence of valid and invalid calls. An invalid call raises
ValueError or IndexError and changes nothing, so the session ends where a fresh session replaying
only the valid calls ends (same objects, prompts and masks)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from sam2_hf import Sam2VideoModel, VideoSession

from ..conftest import make_objects_visible, tiny_config

NUM_FRAMES, HEIGHT, WIDTH = 4, 48, 64
NAMES = ["add_points", "add_points", "add_box", "add_mask", "remove_object", "clear_frame", "reset", "propagate"]


@st.composite
def calls(draw) -> tuple:
    """One session call; about one in four has one argument broken (a frame out of range, an id
    that is not one, NaN or outside coordinates, no points, labels that do not match, a box with
    x1 < x0, a mask of the wrong size or with NaN)."""
    name = draw(st.sampled_from(NAMES))
    broken = draw(st.integers(0, 3)) == 0
    frame = draw(st.integers(0, NUM_FRAMES - 1))
    obj = draw(st.integers(1, 3))
    count = draw(st.integers(1, 3))
    points = [[draw(st.floats(0, WIDTH - 1)), draw(st.floats(0, HEIGHT - 1))] for _ in range(count)]
    labels = [draw(st.integers(0, 1)) for _ in range(count)]
    x0, x1 = sorted(draw(st.floats(0, WIDTH - 1)) for _ in range(2))
    y0, y1 = sorted(draw(st.floats(0, HEIGHT - 1)) for _ in range(2))
    box, mask = [x0, y0, x1, y1], "ok"
    if broken:
        what = draw(st.sampled_from(["frame", "object", "points", "labels", "box", "mask"]))
        if what == "frame":
            frame = draw(st.sampled_from([-1, NUM_FRAMES, NUM_FRAMES + 7]))
        elif what == "object":
            obj = draw(st.sampled_from([0, -1, 99]))  # not ids, or unknown to remove_object / clear_frame
        elif what == "points":
            points = draw(st.sampled_from([[], [[math.nan, 3.0]], [[-30.0, 5.0]], [[5.0, 500.0]], [[math.inf, 1.0]]]))
            labels = labels[: len(points)] or labels
        elif what == "labels":
            labels = draw(st.sampled_from([labels + [1], [5] * count, []]))
        elif what == "box":
            box = draw(st.sampled_from([[x1 + 1, y0, x0, y1], [math.nan, y0, x1, y1], [x0, y0, x1, math.inf]]))
        else:
            mask = draw(st.sampled_from(["wrong_size", "nan"]))
    arguments = {
        "add_points": (frame, obj, points, labels), "add_box": (frame, obj, box), "add_mask": (frame, obj, mask),
        "remove_object": (obj,), "clear_frame": (frame, obj if draw(st.booleans()) else None), "reset": (),
        "propagate": (),
    }
    return (name, *arguments[name])


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return make_objects_visible(Sam2VideoModel(tiny_config())).eval()


@pytest.fixture(scope="module")
def video():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (NUM_FRAMES, HEIGHT, WIDTH, 3), dtype=np.uint8)


def _mask(kind: str) -> np.ndarray:
    if kind == "wrong_size":
        return np.ones((HEIGHT + 1, WIDTH), bool)
    mask = np.zeros((HEIGHT, WIDTH), np.float32)
    mask[10:30, 20:40] = 1
    if kind == "nan":
        mask[0, 0] = np.nan
    return mask


def _apply(session: VideoSession, call: tuple) -> None:
    name, *args = call
    if name == "add_points":
        session.add_points(*args)
    elif name == "add_box":
        session.add_box(*args)
    elif name == "add_mask":
        frame, obj, kind = args
        session.add_mask(frame, obj, _mask(kind))
    elif name == "propagate":
        list(session.propagate())
    else:
        getattr(session, name)(*args)


def _state(session: VideoSession) -> tuple:
    """What the user can see: objects, their prompted frames, and every frame's masks after
    tracking, or the error tracking raises (an object whose every prompt was cleared must get a
    new one first, as in the reference)."""
    try:
        masks = [r.masks.clone() for r in session.propagate()] if session.object_ids else []
    except ValueError as error:
        masks = str(error)
    return session.object_ids, session.prompted_frames(), masks


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(calls(), min_size=1, max_size=10))
@example([("add_points", -1, 1, [[0.0, 0.0]], [0]), ("add_points", 0, 1, [[0.0, 0.0]], [0]), ("clear_frame", 0, None)])
def test_invalid_calls_change_nothing(model, video, sequence):
    valid = []
    with VideoSession(model, video) as session:
        for call in sequence:
            try:
                _apply(session, call)
            except (ValueError, IndexError) as error:
                assert str(error), f"{call[0]} raised an error without a message"
                continue
            valid.append(call)
        got = _state(session)
    event(f"{len(valid)} valid of {len(sequence)} calls, {len(got[0])} objects at the end")
    with VideoSession(model, video) as fresh:
        for call in valid:
            _apply(fresh, call)
        expected = _state(fresh)
    assert got[0] == expected[0] and got[1] == expected[1]
    if isinstance(expected[2], str):
        assert got[2] == expected[2]
    else:
        assert len(got[2]) == len(expected[2]) and all(torch.equal(a, b) for a, b in zip(got[2], expected[2]))
