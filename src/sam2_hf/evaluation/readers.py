"""Readers for the two mask layouts people evaluate on.

* DAVIS: ``<video>/<frame>.png``, one indexed (palette) or grayscale PNG per frame whose pixel
  values are object ids (0 background, 255 void, read as background).
* SA-V val/test: ``<video>/<object>/<frame>.png``, one binary PNG per object per annotated frame.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

VOID_LABEL = 255


class Layout(str, Enum):
    DAVIS = "davis"
    SAV = "sav"


def detect_layout(video_dir: Path) -> Layout:
    """DAVIS when the folder holds only PNG files, SA-V when it holds only object folders."""
    entries = [p for p in sorted(Path(video_dir).iterdir()) if not p.name.startswith(".")]
    if not entries:
        raise ValueError(f"{video_dir} is empty")
    if all(p.is_file() and p.suffix.lower() == ".png" for p in entries):
        return Layout.DAVIS
    if all(p.is_dir() for p in entries):
        return Layout.SAV
    raise ValueError(f"{video_dir} mixes files and folders: expected PNG frames (DAVIS) or one folder per object (SA-V)")


def frame_names(folder: Path) -> list[str]:
    """Sorted PNG file names of a folder."""
    names = sorted(p.name for p in Path(folder).iterdir() if p.suffix.lower() == ".png")
    if not names:
        raise ValueError(f"{folder} holds no PNG frame")
    return names


def read_png(path: Path) -> np.ndarray:
    """A PNG as a 2-D array of its stored values (palette indices for indexed PNGs)."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L", "1", "I", "I;16"):
                raise ValueError(f"{path} is a {image.mode} image; masks must be indexed (P) or grayscale PNGs")
            return np.array(image)
    except FileNotFoundError:
        raise ValueError(f"{path} not found") from None
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"cannot read {path} as a PNG: {error}") from None


def read_label_frames(folder: Path, names: list[str]) -> np.ndarray:
    """``(T, H, W)`` object-id maps of the named DAVIS frames (void read as background)."""
    frames = [read_png(Path(folder) / name) for name in names]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise ValueError(f"frames of {folder} differ in size: {sorted(shapes)}")
    labels = np.stack(frames)
    labels[labels == VOID_LABEL] = 0
    return labels


def read_binary_frames(folder: Path, names: list[str]) -> np.ndarray:
    """``(T, H, W)`` bool masks of one SA-V object; each PNG must hold at most two values."""
    masks = []
    for name in names:
        values = read_png(Path(folder) / name)
        if len(np.unique(values)) > 2:
            raise ValueError(f"{Path(folder) / name} holds more than one object; SA-V masks are binary, one object per PNG")
        masks.append(values > 0)
    shapes = {m.shape for m in masks}
    if len(shapes) > 1:
        raise ValueError(f"frames of {folder} differ in size: {sorted(shapes)}")
    return np.stack(masks)
