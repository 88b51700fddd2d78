"""SA-V-style masklet JSON: every object's mask on every frame as COCO RLE.

The layout follows SA-V's ``sav_*_manual.json`` (``masklet`` is a list over frames of lists over
objects, empty masks are encoded, per-object statistics alongside) so that the files load with
the SA-V reader. SA-V annotates every 4th frame; we write every frame we produce and record
which video frames the rows are in ``masklet_frame_indices`` (a field SA-V does not have).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .rle import encode_rle, rle_area

# Area thresholds (pixels) of COCO's small / medium / large buckets.
SIZE_BUCKETS = ((32**2, "small"), (96**2, "medium"))


def size_bucket(area: float) -> str:
    for limit, name in SIZE_BUCKETS:
        if area < limit:
            return name
    return "large"


class MaskletJsonWriter:
    """Collects each frame's masks as RLE strings while tracking and writes the JSON on close.

    Only the compressed strings are kept (a few hundred bytes per object and frame), never the
    masks. Objects that appear later, or stop being tracked, get empty masks on the other frames.
    """

    def __init__(self, path: str | Path, video_id: str, height: int, width: int, fps: float | None = None,
                 masklet_type: str = "predicted") -> None:
        self.path = Path(path)
        self.video_id = video_id
        self.height, self.width = height, width
        self.fps = fps
        self.masklet_type = masklet_type
        self._frames: dict[int, dict[int, dict]] = {}
        self._edited: dict[int, set[int]] = {}

    def write(self, frame_idx: int, masks: np.ndarray, object_ids: list[int]) -> None:
        if masks.shape[1:] != (self.height, self.width):
            raise ValueError(f"masks of shape {masks.shape[1:]} do not match the video's {(self.height, self.width)}")
        self._frames[frame_idx] = {obj: encode_rle(mask) for obj, mask in zip(object_ids, masks)}

    def mark_prompted(self, frame_idx: int, object_id: int) -> None:
        """Count ``frame_idx`` as a frame a person (or the automatic stage) prompted ``object_id``."""
        self._edited.setdefault(object_id, set()).add(frame_idx)

    def to_dict(self, num_frames: int | None = None) -> dict:
        """The JSON content; ``num_frames`` is the video's length when the last frame written is
        not its last frame (SA-V annotates every 4th)."""
        frame_indices = sorted(self._frames)
        object_ids = sorted({obj for rles in self._frames.values() for obj in rles} | set(self._edited))
        empty = encode_rle(np.zeros((self.height, self.width), bool))
        rows = [[self._frames[t].get(obj, empty) for obj in object_ids] for t in frame_indices]
        areas = np.array([[rle_area(rle) for rle in row] for row in rows], dtype=np.int64).reshape(len(rows), len(object_ids))
        visible = areas > 0
        resolution = self.height * self.width
        mean_area = [float(areas[visible[:, i], i].mean()) if visible[:, i].any() else 0.0 for i in range(len(object_ids))]
        if num_frames is None:
            num_frames = (frame_indices[-1] + 1) if frame_indices else 0
        return {
            "video_id": self.video_id,
            "video_duration": num_frames / self.fps if self.fps else None,
            "video_frame_count": num_frames,
            "video_height": self.height,
            "video_width": self.width,
            "video_resolution": resolution,
            "masklet": rows,
            "masklet_frame_indices": frame_indices,
            "masklet_id": object_ids,
            "masklet_size_rel": [area / resolution for area in mean_area],
            "masklet_size_abs": mean_area,
            "masklet_size_bucket": [size_bucket(area) for area in mean_area],
            "masklet_visibility_changes": [int(np.count_nonzero(np.diff(visible[:, i].astype(np.int8)))) for i in range(len(object_ids))],
            "masklet_first_appeared_frame": [int(np.argmax(visible[:, i])) if visible[:, i].any() else -1 for i in range(len(object_ids))],
            "masklet_frame_count": [int(visible[:, i].sum()) for i in range(len(object_ids))],
            "masklet_edited_frame_count": [len(self._edited.get(obj, ())) for obj in object_ids],
            "masklet_type": [self.masklet_type] * len(object_ids),
            "masklet_stability_score": [None] * len(object_ids),
            "masklet_num": len(object_ids),
        }

    def close(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(self.to_dict()))
        os.replace(temporary, self.path)
        return self.path
