from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import pipeline

from sam2_hf import Sam2VideoModel, VideoMaskGenerationPipeline, VideoSession

from ..conftest import tiny_config
from ..inference.test_session import make_frames

CLICK = {"frame": 0, "object_id": 1, "points": [[20, 25]], "labels": [1]}


@pytest.fixture(scope="module")
def pipe(model_dir):
    return pipeline("video-mask-generation", model=str(model_dir), device="cpu")


def test_one_liner_in_a_fresh_interpreter(model_dir):
    code = (
        "import numpy as np, sam2_hf\n"
        "from transformers import pipeline\n"
        f"pipe = pipeline('video-mask-generation', model={str(model_dir)!r}, device='cpu')\n"
        "video = np.zeros((3, 40, 50, 3), np.uint8); video[:, 10:30, 10:30] = 200\n"
        "results = list(pipe(video, prompts=[{'points': [[20, 20]]}]))\n"
        "print(type(pipe).__name__, [r['frame_idx'] for r in results], results[0]['masks'].shape, results[0]['masks'].dtype)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip().splitlines()[-1] == "VideoMaskGenerationPipeline [0, 1, 2] (1, 40, 50) bool"


def test_results_equal_the_session_driven_by_hand(pipe, model_dir):
    frames = make_frames(8)
    prompts = [CLICK, {"frame": 2, "object_id": 2, "box": [30, 5, 60, 40]}]
    results = pipe(frames, prompts=prompts)
    assert not isinstance(results, list)
    results = list(results)
    # direction="both": backwards from the first prompted frame (0 here, so just frame 0), then forward.
    assert [r["frame_idx"] for r in results] == list(range(8))

    session = VideoSession(Sam2VideoModel.from_pretrained(model_dir), frames, corrections_as_conditioning=True)
    session.add_points(0, 1, [[20, 25]], [1])
    session.add_box(2, 2, [30, 5, 60, 40])
    by_hand = [*session.propagate(reverse=True), *list(session.propagate())[1:]]
    assert len(by_hand) == len(results)
    for result, by_hand in zip(results, by_hand):
        assert result["object_ids"] == by_hand.object_ids == [1, 2]
        assert isinstance(result["masks"], np.ndarray) and result["masks"].dtype == bool
        assert np.array_equal(result["masks"], by_hand.masks.numpy())
        # Two loads of one checkpoint may sum in another order (memory-mapped weights): float32 rounding.
        np.testing.assert_allclose(result["scores"], torch.sigmoid(by_hand.object_scores).numpy(), rtol=1e-5)


def test_both_directions_from_a_middle_frame(pipe):
    results = list(pipe(make_frames(6), prompts=[{**CLICK, "frame": 3}]))
    assert [r["frame_idx"] for r in results] == [3, 2, 1, 0, 4, 5]
    forward = list(pipe(make_frames(6), prompts=[{**CLICK, "frame": 3}], direction="forward", max_frames=2))
    assert [r["frame_idx"] for r in forward] == [3, 4]


def test_results_stream_before_the_video_is_read(pipe):
    read = []

    def camera():
        for t, frame in enumerate(make_frames(40)):
            read.append(t)
            yield frame

    results = pipe(camera(), prompts=[CLICK])
    first = next(results)
    assert first["frame_idx"] == 0 and len(read) < 40
    assert sum(1 for _ in results) == 39 and len(read) == 40


def test_corrective_click_changes_later_frames(pipe):
    frames = make_frames(8)
    before = list(pipe(frames, prompts=[CLICK]))
    after = list(pipe(prompts=[{"frame": 4, "object_id": 1, "points": [[22, 27]], "labels": [0]}]))
    assert pipe.session.prompted_frames() == {1: [0, 4]}
    assert [r["frame_idx"] for r in after] == list(range(8))
    assert np.array_equal(before[0]["masks"], after[0]["masks"])  # the clicked frame 0 keeps its mask
    assert any(not np.array_equal(b["masks"], a["masks"]) for b, a in zip(before[4:], after[4:]))


def test_output_size_and_threshold(pipe):
    frames = make_frames(3)
    results = list(pipe(frames, prompts=[CLICK], output_size=(96, 128), mask_threshold=2.0))
    assert results[0]["masks"].shape == (1, 96, 128)
    default = list(pipe(frames, prompts=[CLICK], output_size=(96, 128)))
    assert results[0]["masks"].sum() <= default[0]["masks"].sum()


def test_automatic_masklets(pipe):
    results = list(pipe(make_frames(4), points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, max_objects=3))
    ids = results[0]["object_ids"]
    assert 1 <= len(ids) <= 3 and ids == list(range(1, len(ids) + 1))
    assert all(r["object_ids"] == ids for r in results)


def test_pipeline_from_a_model_instance():
    torch.manual_seed(0)
    pipe = VideoMaskGenerationPipeline(model=Sam2VideoModel(tiny_config()), device="cpu")
    assert len(list(pipe(make_frames(2), prompts=[CLICK]))) == 2


@pytest.mark.parametrize(
    "video, prompts, options, message",
    [
        ("missing.mp4", [CLICK], {}, "video not found"),
        ("EMPTY", [CLICK], {}, "holds no JPEG or PNG frame"),
        ("FRAMES", [{**CLICK, "points": [[500, 10]]}], {}, "outside"),
        ("FRAMES", [{**CLICK, "frame": 50}], {}, "frame 50 does not exist"),
        ("FRAMES", [{**CLICK, "mask": np.ones((48, 64), bool)}], {}, "cannot be combined"),
        ("FRAMES", [{"mask": np.ones((48, 64), bool)}, {"mask": np.zeros((48, 64), bool)}], {}, "conflicting masks"),
        ("FRAMES", [{"points": [[1, 1]], "colour": "red"}], {}, "unknown prompt keys"),
        ("FRAMES", [], {}, "give prompts"),
        ("FRAMES", [CLICK], {"speed": 2}, "unknown options"),
    ],
)
def test_bad_input(pipe, tmp_path, video, prompts, options, message):
    (tmp_path / "empty").mkdir()
    video = {"EMPTY": tmp_path / "empty", "FRAMES": make_frames(4)}.get(video, video)
    with pytest.raises(ValueError, match=message):
        pipe(video, prompts=prompts, **options)


def test_a_failed_call_keeps_the_open_session(pipe):
    list(pipe(make_frames(4), prompts=[CLICK]))
    session = pipe.session
    with pytest.raises(ValueError, match="outside"):
        pipe(prompts=[{**CLICK, "points": [[500, 10]]}])
    assert pipe.session is session
    assert [r["frame_idx"] for r in pipe(prompts=[{**CLICK, "frame": 2}])] == [0, 1, 2, 3]
