from __future__ import annotations

import json

import numpy as np

from sam2_hf.outputs import MaskletJsonWriter, decode_rle, in_frame_order


def test_objects_appearing_late_get_empty_masks_elsewhere(tmp_path):
    writer = MaskletJsonWriter(tmp_path / "m.json", "clip", 6, 8, fps=4)
    first = np.zeros((1, 6, 8), bool)
    first[0, 1:3, 1:3] = True
    writer.write(0, first, [3])
    both = np.zeros((2, 6, 8), bool)
    both[1, 4:6, 0:8] = True
    writer.write(1, both, [3, 7])
    writer.mark_prompted(1, 7)
    data = json.loads(writer.close().read_text())
    assert data["masklet_id"] == [3, 7] and data["masklet_num"] == 2
    assert data["video_frame_count"] == 2 and data["video_duration"] == 0.5
    assert not decode_rle(data["masklet"][0][1]).any()
    assert np.array_equal(decode_rle(data["masklet"][1][1]), both[1])
    assert data["masklet_size_abs"] == [4.0, 16.0] and data["masklet_size_rel"] == [4 / 48, 16 / 48]
    assert data["masklet_visibility_changes"] == [1, 1] and data["masklet_first_appeared_frame"] == [0, 1]
    assert data["masklet_frame_count"] == [1, 1] and data["masklet_edited_frame_count"] == [0, 1]
    assert not (tmp_path / "m.json.tmp").exists()


def test_in_frame_order_turns_a_backward_stretch_around():
    def result(t):
        return {"frame_idx": t, "masks": np.full((1, 3, 5), t % 2 == 0), "object_ids": [1]}

    stream = [result(t) for t in (3, 2, 1, 0, 4, 5)]
    ordered = list(in_frame_order(stream))
    assert [r["frame_idx"] for r in ordered] == [0, 1, 2, 3, 4, 5]
    for r in ordered:
        assert r["masks"].dtype == bool and r["masks"].shape == (1, 3, 5) and r["masks"].all() == (r["frame_idx"] % 2 == 0)
    assert [r["frame_idx"] for r in in_frame_order(result(t) for t in (0, 1, 2))] == [0, 1, 2]
