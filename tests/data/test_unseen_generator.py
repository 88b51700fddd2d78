"""scripts/make_unseen_generator_clips.py: clips from a generator apart from the training one,
in the SA-V val layout that the model evaluation reads."""

from __future__ import annotations

import numpy as np

from sam2_hf.data import load_sav
from sam2_hf.evaluation.model_evaluation import annotated_video

from ..conftest import load_script


def test_clips_hold_moving_visible_objects_and_read_back_as_a_dataset(tmp_path):
    script = load_script("make_unseen_generator_clips")
    frames, masks, kind = script.render_clip(3, num_frames=24)
    assert kind in script.BACKGROUNDS and frames.shape == (24, 144, 192, 3) and masks.shape == (24, 3, 144, 192)
    assert not (masks.sum(1) > 1).any() and (masks.sum((2, 3)) > 0).all()  # visible parts, always in view
    centres = np.array([[np.argwhere(m).mean(0) for m in obj] for obj in masks.transpose(1, 0, 2, 3)])
    assert (np.linalg.norm(centres[:, -1] - centres[:, 0], axis=-1) > 3).all()  # every object moves
    script.write_val_video(tmp_path, "clip", frames, masks)
    video = annotated_video(load_sav(tmp_path)[0])
    assert video.annotated == list(range(0, 24, 4)) and np.array_equal(video.truth, masks[::4])
    assert np.abs(video.frames.astype(int) - frames).mean() < 4  # JPEG
