from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam2_hf.data import decode_masks, load_sav, read_frames, render_video, write_sav_dataset
from sam2_hf.data.synthetic import TEXTURES, VARIED_SHAPES, _look_alike, _random_sprite
from sam2_hf.outputs import encode_rle

SAV_EXAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sav_example"


def test_render_is_deterministic_and_objects_move_occlude_and_leave():
    frames, masks = render_video(7, num_frames=64, num_objects=3, num_distractors=2)
    again, _ = render_video(7, num_frames=64, num_objects=3, num_distractors=2)
    assert np.array_equal(frames, again) and not np.array_equal(frames, render_video(8, num_frames=64)[0])
    assert frames.shape == (64, 96, 128, 3) and masks.shape == (64, 3, 96, 128)
    assert not (masks.sum(1) > 1).any()  # visible parts: one owner per pixel
    areas = masks.sum((2, 3))
    assert (areas.max(0) > 0).all() and (areas.std(0) > 0).all()  # every object shows and changes
    centres = [np.argwhere(m).mean(0) for m in masks[:, 0] if m.any()]
    assert np.linalg.norm(centres[-1] - centres[0]) > 2


def _distractor_gaps(seed: int, num_frames: int = 64, **scene) -> np.ndarray:
    """Per frame, the distance from the target's centre to its distractor's visible part (NaN
    unless both show), the distractor found as the pixels a render without it does not have."""
    frames, masks = render_video(seed, num_frames=num_frames, num_objects=1, num_distractors=1, **scene)
    alone, _ = render_video(seed, num_frames=num_frames, num_objects=1, num_distractors=0, **scene)  # same background and target: drawn first
    gaps = np.full(num_frames, np.nan)
    for t in range(num_frames):
        distractor = (frames[t] != alone[t]).any(-1)
        if distractor.any() and masks[t, 0].any():
            gaps[t] = np.linalg.norm(np.argwhere(distractor).mean(0) - np.argwhere(masks[t, 0]).mean(0))
    return gaps


def test_chasing_distractors_stay_near_their_target_and_other_videos_stay_as_they_were():
    assert np.array_equal(render_video(11, chasing_probability=0.0)[0], render_video(11)[0])
    chasing = np.concatenate([_distractor_gaps(seed, chasing_probability=1.0) for seed in range(8)])
    free = np.concatenate([_distractor_gaps(seed) for seed in range(8)])
    chasing, free = chasing[~np.isnan(chasing)], free[~np.isnan(free)]
    # A chaser is within 20 pixels (about an object's half size) of its target most of the time.
    assert (chasing < 20).mean() > 0.5 > 2 * (free < 20).mean()
    with pytest.raises(ValueError, match="chasing_probability"):
        write_sav_dataset("unused", 1, chasing_probability=1.5)


def test_emerging_distractors_start_behind_their_target_and_come_out():
    assert np.array_equal(render_video(11, emerging_probability=0.0)[0], render_video(11)[0])
    emerging = np.stack([_distractor_gaps(seed, num_frames=16, emerging_probability=1.0) for seed in range(12)])
    free = np.stack([_distractor_gaps(seed, num_frames=16) for seed in range(12)])
    # On the first frame what shows of the look-alike peeks out around the target (or nothing
    # does: NaN), unlike a free look-alike; then it moves out on its own path.
    assert np.nanmedian(emerging[:, 0]) < 15 < 30 < np.nanmedian(free[:, 0])
    assert np.nanmedian(emerging[:, -1]) > 2 * np.nanmedian(emerging[:, 0])
    # Chasers keep their target's path: a distractor that chases does not also emerge.
    assert np.array_equal(render_video(3, chasing_probability=1.0, emerging_probability=1.0)[0],
                          render_video(3, chasing_probability=1.0, emerging_probability=0.5)[0])
    with pytest.raises(ValueError, match="emerging_probability"):
        write_sav_dataset("unused", 1, emerging_probability=-0.1)


def _background_only(seed: int) -> np.ndarray:
    return render_video(seed, num_frames=1, num_objects=0, num_distractors=0, variety=True)[0][0].astype(float)


def test_variety_widens_backgrounds_shapes_and_textures_and_keeps_look_alikes_alike():
    rng = np.random.default_rng(0)
    sprites = [_random_sprite(rng, 96, 128, np.full(3, 128.0), variety=True) for _ in range(200)]
    assert {s.shape for s in sprites} == set(VARIED_SHAPES) and {s.texture for s in sprites} == set(TEXTURES)
    assert {s.shape for s in [_random_sprite(rng, 96, 128, np.full(3, 128.0)) for _ in range(50)]} == {"ellipse", "rectangle", "triangle"}
    for sprite in sprites[:60]:
        other = _look_alike(rng, sprite, 96, 128, np.full(3, 128.0), variety=True)
        assert (other.shape, other.texture) == (sprite.shape, sprite.texture)
        changed = [not np.array_equal(other.colors, sprite.colors), other.stripe_angle != sprite.stripe_angle,
                   other.stripe_frequency != sprite.stripe_frequency, not np.array_equal(other.half_size, sprite.half_size)]
        assert sum(changed) == 1 and not (sprite.texture == "rings" and changed[1])
    # Backgrounds: flat ones (only the noise varies) and blocky ones (hard edges between blocks) appear.
    backgrounds = [_background_only(seed) for seed in range(12)]
    spreads = [b.std((0, 1)).max() for b in backgrounds]
    hard_edges = [(np.abs(np.diff(b, axis=1)).max(-1) > 60).mean() for b in backgrounds]
    assert min(spreads) < 8 and max(hard_edges) > 0.03 and hard_edges[int(np.argmin(spreads))] == 0
    frames, masks = render_video(3, num_frames=16, num_objects=3, num_distractors=2, variety=True)
    assert not (masks.sum(1) > 1).any() and (masks.sum((2, 3)).max(0) > 0).all()


@pytest.mark.parametrize("layout, annotation_stride", [("train", 4), ("val", 4), ("train", 1), ("val", 3)])
def test_reader_round_trips_masks_exactly(tmp_path, layout, annotation_stride):
    ids = write_sav_dataset(tmp_path, 2, layout=layout, seed=3, num_frames=12, num_objects=2,
                            annotation_stride=annotation_stride)
    dataset = load_sav(tmp_path)
    assert dataset["video_id"] == ids and len(dataset) == 2
    row = dataset[1]
    assert row["frame_indices"] == list(range(0, 12, annotation_stride))
    assert row["num_frames"] == 12 and (row["height"], row["width"]) == (96, 128)
    frames, masks = render_video(3 * 100_000 + 1, num_frames=12, num_objects=2)
    for i, t in enumerate(row["frame_indices"]):
        decoded = decode_masks(row, i)
        assert np.array_equal(decoded, masks[t])
        assert [encode_rle(m)["counts"] for m in decoded] == [rle["counts"] for rle in row["masklet"][i]]
    decoded_frames = read_frames(row, [0, 11])
    assert decoded_frames.shape == (2, 96, 128, 3)
    assert np.abs(decoded_frames.astype(int) - frames[[0, 11]]).mean() < 6  # mp4 / JPEG are lossy


def test_streaming_gives_the_same_rows(tmp_path):
    write_sav_dataset(tmp_path, 2, seed=1, num_frames=8)
    assert list(load_sav(tmp_path, streaming=True)) == list(load_sav(tmp_path))


def test_several_folders_are_one_dataset(tmp_path):
    write_sav_dataset(tmp_path / "plain", 2, seed=1, num_frames=8)
    write_sav_dataset(tmp_path / "varied", 3, seed=6, num_frames=8, variety=True)
    both = load_sav([tmp_path / "plain", str(tmp_path / "varied")])
    assert list(both) == list(load_sav(tmp_path / "plain")) + list(load_sav(tmp_path / "varied"))
    assert list(load_sav([tmp_path / "plain", tmp_path / "varied"], streaming=True)) == list(both)
    (tmp_path / "empty" / "Annotations").mkdir(parents=True)
    with pytest.raises(ValueError, match="empty holds no annotated video"):
        load_sav([tmp_path / "plain", tmp_path / "empty"])
    with pytest.raises(ValueError, match="dataset folder not found"):
        load_sav([tmp_path / "plain", tmp_path / "missing"])


def test_davis_layout(tmp_path):
    frames, masks = render_video(5, num_frames=6, num_objects=2)
    for t in range(6):
        (tmp_path / "JPEGImages" / "clip").mkdir(parents=True, exist_ok=True)
        (tmp_path / "Annotations" / "clip").mkdir(parents=True, exist_ok=True)
        Image.fromarray(frames[t]).save(tmp_path / "JPEGImages" / "clip" / f"{t:05d}.jpg")
        if t % 2 == 0:
            label = np.zeros((96, 128), np.uint8)
            label[masks[t, 0]] = 1
            label[masks[t, 1]] = 3
            Image.fromarray(label).save(tmp_path / "Annotations" / "clip" / f"{t:05d}.png")
    row = load_sav(tmp_path)[0]
    assert row["object_ids"] == [1, 3] and row["frame_indices"] == [0, 2, 4] and row["num_frames"] == 6
    assert np.array_equal(decode_masks(row, 1), masks[2])


def test_real_sav_json_is_read_as_published(tmp_path):
    if not SAV_EXAMPLE.is_dir():
        pytest.skip("../shared/data/sav_example is not beside the repository")
    shutil.copy(SAV_EXAMPLE / "sav_000001_manual.json", tmp_path)
    with pytest.raises(ValueError, match="has no video sav_000001.mp4 beside it"):
        load_sav(tmp_path)
    (tmp_path / "sav_000001.mp4").touch()  # decoded only when frames are read
    row = load_sav(tmp_path)[0]
    published = json.loads((SAV_EXAMPLE / "sav_000001_manual.json").read_text())
    assert row["frame_indices"][:3] == [0, 4, 8] and len(row["frame_indices"]) == 121
    assert row["num_frames"] == 483 and row["object_ids"] == published["masklet_id"]
    assert decode_masks(row, 0).shape == (5, 848, 480)


def test_not_a_dataset(tmp_path):
    with pytest.raises(ValueError, match="is not SA-V"):
        load_sav(tmp_path)
