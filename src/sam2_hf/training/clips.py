"""Training clips drawn from a SA-V-format dataset.

Sample ``k`` of a run is a pure function of ``(seed, k)``: which video, which stretch of its
annotated frames, which objects, whether it is flipped. A resumed run therefore sees exactly
the samples the uninterrupted run would have, whatever the number of workers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..data.sav import decode_masks, read_frames
from ..outputs.rle import rle_area
from ..processing.image_processor import Sam2ImageProcessor


class ClipDataset(Dataset):
    """``num_samples`` clips of ``clip_length`` annotated frames from the rows of ``videos``
    (a dataset from :func:`~sam2_hf.data.load_sav`).

    Each item: ``pixel_values`` ``(T, 3, S, S)``, ``targets`` ``(T, N, S, S)`` (up to
    ``max_objects`` objects, all visible on the first frame) and ``seed`` for the prompts.
    Samples numbered below ``frames_from`` come without frames (``pixel_values`` None): the
    prompt-routing steps never look at them, and decoding them took most of such a step's time.
    A clip takes every ``k``-th annotated frame, ``k`` drawn from ``frame_steps`` for each clip.
    A ``reentry_fraction`` of the clips is drawn among those in which an object leaves view and
    comes back, and that object is among the clip's: in uniformly drawn clips few objects do
    (9% of the synthetic set's leave view at all), and finding an object again is where a tracker
    trained on them fails.
    """

    def __init__(self, videos, processor: Sam2ImageProcessor, num_samples: int, clip_length: int = 8,
                 max_objects: int = 3, seed: int = 0, flip_probability: float = 0.5, frames_from: int = 0,
                 frame_steps: tuple[int, ...] = (1,), reentry_fraction: float = 0.0) -> None:
        if clip_length < 2:
            raise ValueError("clips need at least 2 frames (the first is prompted, the rest are tracked)")
        if not frame_steps or min(frame_steps) < 1:
            raise ValueError(f"frame_steps must be positive annotated-frame steps, got {list(frame_steps)}")
        if not 0.0 <= reentry_fraction <= 1.0:
            raise ValueError(f"reentry_fraction must lie in [0, 1], got {reentry_fraction}")
        self.videos = videos
        self.processor = processor
        self.num_samples = num_samples
        self.clip_length = clip_length
        self.max_objects = max_objects
        self.seed = seed
        self.flip_probability = flip_probability
        self.frames_from = frames_from
        self.frame_steps = tuple(int(k) for k in frame_steps)
        self.reentry_fraction = reentry_fraction

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index])
        # No draw without re-entry clips: the clips of runs that do not ask for them stay what they were.
        reentry = self.reentry_fraction > 0 and rng.random() < self.reentry_fraction
        row, positions, chosen = self._draw_reentry_clip(rng) if reentry else self._draw_clip(rng)
        masks = np.stack([decode_masks(row, i)[chosen] for i in positions])  # (T, N, H, W)
        size = self.processor.image_size
        targets = F.interpolate(torch.from_numpy(masks).float(), size=(size, size), mode="nearest")
        pixel_values = None
        if index >= self.frames_from:
            frames = read_frames(row, [row["frame_indices"][i] for i in positions])
            pixel_values = torch.stack([self.processor.preprocess(frame, "video")[0] for frame in frames])
        if rng.random() < self.flip_probability:
            targets = targets.flip(-1)
            pixel_values = None if pixel_values is None else pixel_values.flip(-1)
        return {"pixel_values": pixel_values, "targets": targets, "seed": int(rng.integers(2**31))}

    def _draw_stretch(self, rng: np.random.Generator) -> tuple[dict, range]:
        """A video and the annotated positions of a clip in it (at least 2 unless the video is shorter)."""
        row = self.videos[int(rng.integers(len(self.videos)))]
        annotated = len(row["frame_indices"])
        # One step needs no draw: clips of the single-step datasets stay what they were.
        step = self.frame_steps[0] if len(self.frame_steps) == 1 else int(rng.choice(self.frame_steps))
        length = min(self.clip_length, (annotated - 1) // step + 1)
        start = int(rng.integers(annotated - (length - 1) * step))
        return row, range(start, start + (length - 1) * step + 1, step)

    def _draw_clip(self, rng: np.random.Generator) -> tuple[dict, range, np.ndarray]:
        for _ in range(100):
            row, positions = self._draw_stretch(rng)
            visible = np.flatnonzero(_visible(row, positions[0]))
            if len(positions) >= 2 and len(visible):
                return row, positions, rng.choice(visible, size=min(self.max_objects, len(visible)), replace=False)
        raise ValueError("no video has an object visible at the start of a 2-frame stretch")

    def _draw_reentry_clip(self, rng: np.random.Generator, attempts: int = 2000) -> tuple[dict, range, np.ndarray]:
        for _ in range(attempts):
            row, positions = self._draw_stretch(rng)
            visible = np.stack([_visible(row, i) for i in positions])  # (T, N)
            hidden_since = np.cumsum(~visible, axis=0) > 0  # the object has been out of view by then
            returning = np.flatnonzero(visible[0] & (visible & hidden_since).any(axis=0))
            if len(returning):
                first = rng.choice(returning)
                others = np.setdiff1d(np.flatnonzero(visible[0]), [first])
                count = min(self.max_objects - 1, len(others))
                return row, positions, np.concatenate([[first], rng.choice(others, size=count, replace=False)]).astype(int)
        raise ValueError(f"no clip in which an object leaves view and comes back was found in {attempts} draws: "
                         "the videos may have none; lower reentry_fraction")


def _visible(row: dict, annotated_index: int) -> np.ndarray:
    """Which objects have a pixel on the row's ``annotated_index``-th annotated frame, read from
    the RLE counts without decoding the masks."""
    return np.array([rle_area(rle) > 0 for rle in row["masklet"][annotated_index]])
