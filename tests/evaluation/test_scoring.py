"""Video-level conventions of DAVIS and SA-V, the folder readers, the CLI and the metric module."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from PIL import Image

from sam2_hf.cli import main
from sam2_hf.evaluation import (
    METRIC_PATH, boundary_f_measure, evaluate_folders, region_similarity, score_davis_video, score_sav_object,
)


def moving_objects(frames=6, shape=(36, 48), shift=0):
    """Two squares moving right; `shift` moves the second one further (a tracking error)."""
    labels = np.zeros((frames, *shape), np.uint8)
    for t in range(frames):
        labels[t, 4:14, 2 + 2 * t : 12 + 2 * t] = 1
        labels[t, 20:30, 20 + t + shift : 30 + t + shift] = 2
    return labels


def test_davis_video_convention():
    gt = moving_objects()
    pred = moving_objects(shift=3)
    pred[0] = 0  # the first frame is not scored...
    pred[-1] = 0  # ...nor the last
    scores = score_davis_video(gt, pred)
    assert scores["1"].J == 1.0 and scores["1"].F == 1.0
    expected_j = np.mean(region_similarity(gt[1:-1] == 2, pred[1:-1] == 2))
    expected_f = np.mean(boundary_f_measure(gt[1:-1] == 2, pred[1:-1] == 2))
    assert scores["2"].J == pytest.approx(expected_j) and scores["2"].F == pytest.approx(expected_f)


def test_davis_objects_come_from_the_first_frame():
    gt = moving_objects()
    gt[0][gt[0] == 2] = 0  # object 2 is not in the first frame: not evaluated
    pred = np.where(gt == 2, 0, gt)
    assert set(score_davis_video(gt, pred)) == {"1"}
    with pytest.raises(ValueError, match="object id 2"):
        score_davis_video(gt, gt)  # predicting an object the first ground-truth frame lacks


def test_davis_relabelling_invariance():
    gt, pred = moving_objects(), moving_objects(shift=2)
    swap = np.array([0, 2, 1], np.uint8)
    a, b = score_davis_video(gt, pred), score_davis_video(swap[gt], swap[pred])
    assert a["1"] == b["2"] and a["2"] == b["1"]


def test_sav_object_convention():
    """Scored from the first appearance in ground truth or prediction; empty/empty frames after
    that count as 1; the first and last frames are dropped."""
    shape = (20, 20)
    gt = np.zeros((8, *shape), bool)
    pred = np.zeros_like(gt)
    gt[3:5, 5:10, 5:10] = True  # appears at frame 3, gone from frame 5
    pred[3, 5:10, 6:11] = True
    score = score_sav_object(gt, pred)
    # Frames 1..6 kept; 1, 2 dropped (nothing yet); frames 3, 4, 5, 6 scored.
    j3 = region_similarity(gt[3], pred[3])
    assert score.J == pytest.approx((j3 + 0 + 1 + 1) / 4)
    f3 = boundary_f_measure(gt[3], pred[3])
    assert score.F == pytest.approx((f3 + 0 + 1 + 1) / 4)
    assert score_sav_object(np.zeros_like(gt), pred) is None  # never in ground truth: not reported


def _write_davis(root, name, labels):
    folder = root / name
    folder.mkdir(parents=True)
    palette = [0, 0, 0, 200, 30, 30, 30, 200, 30] + [0] * (256 * 3 - 9)
    for t, frame in enumerate(labels):
        image = Image.fromarray(frame, mode="P")
        image.putpalette(palette)
        image.save(folder / f"{t:05d}.png")


def _write_sav(root, name, labels):
    for obj in range(1, int(labels.max()) + 1):
        folder = root / name / f"{obj - 1:03d}"
        folder.mkdir(parents=True)
        for t, frame in enumerate(labels):
            Image.fromarray(((frame == obj) * 255).astype(np.uint8)).save(folder / f"{t:05d}.png")


@pytest.fixture
def folders(tmp_path):
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    _write_davis(gt_root, "davis_video", moving_objects())
    _write_davis(pred_root, "davis_video", moving_objects(shift=2))
    _write_sav(gt_root, "sav_video", moving_objects(frames=8))
    _write_sav(pred_root, "sav_video", moving_objects(frames=8, shift=1))
    return gt_root, pred_root


def test_folders_in_both_layouts(folders):
    gt_root, pred_root = folders
    result = evaluate_folders(gt_root, pred_root)
    davis = score_davis_video(moving_objects(), moving_objects(shift=2))
    assert result.videos["davis_video"].objects == davis
    assert set(result.videos["sav_video"].objects) == {"000", "001"}
    gt, pred = moving_objects(frames=8), moving_objects(frames=8, shift=1)
    assert result.videos["sav_video"].objects["001"] == score_sav_object(gt == 2, pred == 2)
    all_objects = list(davis.values()) + list(result.videos["sav_video"].objects.values())
    assert result.J == pytest.approx(np.mean([o.J for o in all_objects]))
    assert result.JF == pytest.approx((result.J + result.F) / 2)
    parallel = evaluate_folders(gt_root, pred_root, num_workers=2)
    assert parallel.to_dict() == result.to_dict()


def test_missing_video_counts_as_zero_with_a_warning(folders, caplog):
    gt_root, pred_root = folders
    _write_davis(gt_root, "unpredicted", moving_objects())
    with caplog.at_level(logging.WARNING):
        result = evaluate_folders(gt_root, pred_root)
    assert "no prediction for video unpredicted" in caplog.text
    video = result.videos["unpredicted"]
    assert video.missing_prediction and video.J == 0.0 and video.F == 0.0 and len(video.objects) == 2


def test_bad_folders(tmp_path, folders):
    gt_root, pred_root = folders
    # A frame of another size.
    Image.fromarray(np.zeros((10, 10), np.uint8), mode="P").save(pred_root / "davis_video" / "00002.png")
    with pytest.raises(ValueError, match="differ in size"):
        evaluate_folders(gt_root, pred_root)
    _write_davis(pred_root / "x", "davis_video", moving_objects())  # restore a clean copy elsewhere
    (pred_root / "x" / "davis_video" / "00003.png").unlink()
    with pytest.raises(ValueError, match="00003.png not found"):
        evaluate_folders(gt_root, pred_root / "x")
    (pred_root / "x" / "davis_video" / "00003.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read"):
        evaluate_folders(gt_root, pred_root / "x")
    Image.fromarray(np.zeros((36, 48, 3), np.uint8)).save(pred_root / "x" / "davis_video" / "00003.png")
    with pytest.raises(ValueError, match="RGB image"):
        evaluate_folders(gt_root, pred_root / "x")


def test_sav_masks_must_be_binary(folders):
    gt_root, pred_root = folders
    three_values = np.zeros((36, 48), np.uint8)
    three_values[:5], three_values[5:10] = 1, 2
    Image.fromarray(three_values).save(pred_root / "sav_video" / "000" / "00003.png")
    with pytest.raises(ValueError, match="more than one object"):
        evaluate_folders(gt_root, pred_root)


def test_cli_table_and_json(folders, tmp_path, capsys):
    gt_root, pred_root = folders
    out = tmp_path / "scores.json"
    assert main(["evaluate", str(gt_root), str(pred_root), "--json", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "davis_video" in printed and "TOTAL" in printed
    scores = json.loads(out.read_text())
    assert set(scores) == {"J", "F", "J&F", "videos"}
    video = scores["videos"]["davis_video"]
    assert set(video) == {"J", "F", "J&F", "objects"} and set(video["objects"]["1"]) == {"J", "F"}
    assert video["J"] == pytest.approx(np.mean([o["J"] for o in video["objects"].values()]))


def test_cli_error_is_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope"), str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_evaluate_metric_module():
    evaluate = pytest.importorskip("evaluate")
    metric = evaluate.load(METRIC_PATH)
    gt, pred = moving_objects(), moving_objects(shift=2)
    result = metric.compute(predictions=[pred, gt], references=[gt, gt])
    objects = list(score_davis_video(gt, pred).values()) + list(score_davis_video(gt, gt).values())
    assert result["J"] == pytest.approx(np.mean([o.J for o in objects]))
    assert result["J&F"] == pytest.approx((result["J"] + result["F"]) / 2)
    sav = metric.compute(predictions=[pred == 2], references=[gt == 2], convention="sav")
    assert sav["J"] == pytest.approx(score_sav_object(gt == 2, pred == 2).J)
