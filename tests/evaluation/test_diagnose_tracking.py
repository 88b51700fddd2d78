"""scripts/diagnose_tracking.py: the failure categories and a run on a small generated set."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_hf import Sam2VideoModel
from sam2_hf.data import decode_masks, load_sav, write_sav_dataset

from ..conftest import load_script, tiny_config


@pytest.fixture(scope="module")
def diagnose_tracking():
    return load_script("diagnose_tracking")


def test_categories(diagnose_tracking):
    truth = np.zeros((10, 10), bool)
    truth[2:6, 2:6] = True  # 16 pixels
    shifted = np.zeros_like(truth)
    shifted[3:7, 3:7] = True  # 9 of 16 on the object: IoU 9/23
    far = np.zeros_like(truth)
    far[5:10, 5:10] = True  # 1 of 25 on it
    assert diagnose_tracking.categorise(truth, truth) == "ok"
    assert diagnose_tracking.categorise(np.zeros_like(truth), truth) == "empty"
    assert diagnose_tracking.categorise(shifted, truth) == "partial"
    assert diagnose_tracking.categorise(far, truth) == "elsewhere"


def test_every_visible_second_half_object_frame_is_counted_once(tmp_path, diagnose_tracking):
    write_sav_dataset(tmp_path, 2, layout="val", seed=9, num_frames=16, num_objects=2, annotation_stride=2)
    result = diagnose_tracking.diagnose(Sam2VideoModel(tiny_config()).eval(), tmp_path, max_videos=2, spans=4)
    assert len(result["span_iou"]) == 4 and all(0 <= v <= 1 for v in result["span_iou"] if v is not None)
    visible = sum(decode_masks(row, a)[obj].any()
                  for row in load_sav(tmp_path) for obj in range(2) if decode_masks(row, 0)[obj].any()
                  for a, t in enumerate(row["frame_indices"]) if t >= row["num_frames"] // 2)
    counted = sum(n for category, n in result["second_half"].items() if category != "false alarms")
    assert counted == visible > 0
