"""SA-V (and DAVIS-layout) videos with masks as a ``datasets.Dataset``.

One row per video: where its frames are, which frames are annotated, and every object's mask on
those frames as COCO RLE. Frames themselves are not in the rows; :func:`read_frames` decodes the
ones a training clip needs, lazily, from the mp4 or the frame folder. Three layouts:

* SA-V train: ``sav_*.mp4`` + ``sav_*_manual.json`` (and/or ``_auto.json``), RLE every 4th frame.
* SA-V val/test: ``JPEGImages_24fps/<video>/%05d.jpg`` + ``Annotations_6fps/<video>/<obj>/%05d.png``.
* DAVIS (a user's own videos): ``JPEGImages[/480p]/<video>/*.jpg`` + ``Annotations[/480p]/<video>/*.png``
  (indexed PNGs, pixel value = object id).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from ..outputs.rle import decode_rle, encode_rle
from ..processing.video_reader import open_video
from .synthetic import ANNOTATION_STRIDE

Layout = Literal["sav_train", "sav_val", "davis"]
VOID_LABEL = 255


def detect_layout(root: str | Path) -> Layout:
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"dataset folder not found: {root}")
    if (root / "Annotations_6fps").is_dir():
        return "sav_val"
    if (root / "Annotations").is_dir():
        return "davis"
    if any(root.glob("sav_*_manual.json")) or any(root.glob("sav_*_auto.json")):
        return "sav_train"
    raise ValueError(f"{root} is not SA-V (sav_*.mp4 + sav_*_manual.json, or Annotations_6fps/) nor DAVIS (Annotations/)")


def iter_videos(root: str | Path, annotations: Literal["manual", "auto"] = "manual") -> Iterator[dict]:
    """One dict per video (the dataset's rows), in name order."""
    root = Path(root)
    layout = detect_layout(root)
    if layout == "sav_train":
        yield from _sav_train_rows(root, annotations)
    elif layout == "sav_val":
        yield from _sav_val_rows(root)
    else:
        yield from _davis_rows(root)


def load_sav(root: str | Path | Sequence[str | Path], annotations: Literal["manual", "auto"] = "manual",
             streaming: bool = False):
    """A ``datasets.Dataset`` (or ``IterableDataset`` with ``streaming=True``) of the videos in
    ``root``, or in each of several folders, one after the other. Columns: ``video_id``,
    ``video_path``, ``num_frames``, ``height``, ``width``, ``frame_indices`` (annotated frames),
    ``object_ids``, ``masklet`` (frames x objects RLE)."""
    import datasets

    roots = [str(Path(folder).resolve()) for folder in ([root] if isinstance(root, (str, Path)) else root)]
    if not roots:
        raise ValueError("no dataset folder given")
    for folder in roots:
        detect_layout(folder)  # fail early, with the reason
    if streaming:
        return datasets.IterableDataset.from_generator(_iter_folders, gen_kwargs={"roots": roots, "annotations": annotations})
    rows = []
    for folder in roots:
        found = list(iter_videos(folder, annotations))
        if not found:
            raise ValueError(f"{folder} holds no annotated video")
        rows += found
    return datasets.Dataset.from_list(rows)


def _iter_folders(roots: list[str], annotations: str) -> Iterator[dict]:
    for folder in roots:
        yield from iter_videos(folder, annotations)


def decode_masks(row: dict, annotated_index: int) -> np.ndarray:
    """``(num_objects, H, W)`` bool masks of the ``annotated_index``-th annotated frame."""
    return np.stack([decode_rle(rle) for rle in row["masklet"][annotated_index]])


def read_frames(row: dict, frame_indices: list[int]) -> np.ndarray:
    """Decode just these frames of the row's video: ``(len, H, W, 3)`` uint8."""
    source = open_video(row["video_path"])
    try:
        return np.stack([source.frame(t) for t in frame_indices])
    finally:
        source.close()


def _row(video_id: str, video_path: Path, num_frames: int, height: int, width: int, frame_indices: list[int],
         object_ids: list[int], masklet: list[list[dict]]) -> dict:
    return {"video_id": video_id, "video_path": str(video_path), "num_frames": int(num_frames), "height": int(height),
            "width": int(width), "frame_indices": [int(t) for t in frame_indices], "object_ids": [int(o) for o in object_ids],
            "masklet": [[{"size": [int(v) for v in rle["size"]], "counts": rle["counts"]} for rle in row] for row in masklet]}


def _sav_train_rows(root: Path, annotations: str) -> Iterator[dict]:
    for json_path in sorted(root.glob(f"sav_*_{annotations}.json")):
        video_id = json_path.name[: -len(f"_{annotations}.json")]
        video_path = root / f"{video_id}.mp4"
        if not video_path.is_file():
            raise ValueError(f"{json_path.name} has no video {video_path.name} beside it")
        data = json.loads(json_path.read_text())
        masklet = data["masklet"]
        # SA-V rows are every 4th video frame; files written by this package say which frames.
        frame_indices = data.get("masklet_frame_indices") or [ANNOTATION_STRIDE * i for i in range(len(masklet))]
        object_ids = data.get("masklet_id") or list(range(int(data.get("masklet_num", len(masklet[0]) if masklet else 0))))
        yield _row(video_id, video_path, int(data["video_frame_count"]), int(data["video_height"]), int(data["video_width"]),
                   frame_indices, object_ids, masklet)


def _sav_val_rows(root: Path) -> Iterator[dict]:
    frames_root = root / "JPEGImages_24fps"
    for video_dir in sorted(p for p in (root / "Annotations_6fps").iterdir() if p.is_dir()):
        object_dirs = sorted(p for p in video_dir.iterdir() if p.is_dir())
        if not object_dirs:
            continue
        names = sorted(p.name for p in object_dirs[0].glob("*.png"))
        frame_dir = frames_root / video_dir.name
        num_frames = len(list(frame_dir.glob("*.jpg")))
        if num_frames == 0:
            raise ValueError(f"{frame_dir} holds no JPEG frame for the annotations in {video_dir}")
        masklet = []
        for name in names:
            masks = [np.asarray(Image.open(obj / name).convert("L")) > 0 for obj in object_dirs]
            masklet.append([encode_rle(mask) for mask in masks])
        height, width = masklet[0][0]["size"]
        yield _row(video_dir.name, frame_dir, num_frames, height, width, [int(Path(n).stem) for n in names],
                   [int(p.name) for p in object_dirs], masklet)


def _davis_rows(root: Path) -> Iterator[dict]:
    annotations = root / "Annotations"
    images = root / "JPEGImages"
    if (annotations / "480p").is_dir():
        annotations, images = annotations / "480p", images / "480p"
    for video_dir in sorted(p for p in annotations.iterdir() if p.is_dir()):
        frame_dir = images / video_dir.name
        frame_names = sorted(p.stem for p in frame_dir.glob("*.jpg"))
        if not frame_names:
            raise ValueError(f"{frame_dir} holds no JPEG frame for the annotations in {video_dir}")
        mask_paths = sorted(video_dir.glob("*.png"))
        labels = [np.asarray(Image.open(path)) for path in mask_paths]
        object_ids = sorted({int(v) for label in labels for v in np.unique(label)} - {0, VOID_LABEL})
        masklet = [[encode_rle(label == obj) for obj in object_ids] for label in labels]
        height, width = labels[0].shape[:2]
        yield _row(video_dir.name, frame_dir, len(frame_names), height, width,
                   [frame_names.index(p.stem) for p in mask_paths], object_ids, masklet)
