"""Writers that stream per-frame results to disk as they arrive."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from .overlay import object_colors, overlay_masks, palette


def label_map(masks: np.ndarray, object_ids: list[int]) -> np.ndarray:
    """``(N, H, W)`` bool masks -> ``(H, W)`` uint8 map of object ids (later objects win overlaps)."""
    if any(not 0 < obj < 256 for obj in object_ids):
        raise ValueError(f"object ids must be 1..255 to be written as indexed PNGs, got {object_ids}")
    labels = np.zeros(masks.shape[1:], np.uint8)
    for mask, obj in zip(masks, object_ids):
        labels[mask] = obj
    return labels


class IndexedPngWriter:
    """One palette PNG per frame, pixel value = object id: the DAVIS layout, readable by
    ``sam2-hf evaluate``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        colors = np.zeros((256, 3), np.uint8)
        colors[1:] = palette(255)
        self._palette = colors.flatten().tolist()

    def write(self, frame_idx: int, masks: np.ndarray, object_ids: list[int]) -> Path:
        image = Image.fromarray(label_map(masks, object_ids), mode="P")
        image.putpalette(self._palette)
        path = self.folder / f"{frame_idx:05d}.png"
        image.save(path)
        return path


class PerObjectPngWriter:
    """One binary PNG per object per frame, ``<object:03d>/<frame:05d>.png``: the SA-V val/test
    layout (objects may overlap), also readable by ``sam2-hf evaluate``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(self, frame_idx: int, masks: np.ndarray, object_ids: list[int]) -> None:
        for mask, obj in zip(masks, object_ids):
            object_dir = self.folder / f"{obj:03d}"
            object_dir.mkdir(exist_ok=True)
            Image.fromarray(mask.astype(np.uint8) * 255).save(object_dir / f"{frame_idx:05d}.png")


class OverlayVideoWriter:
    """An H.264 (yuv420p, browser-playable) video of the frames with coloured masks."""

    def __init__(self, path: str | Path, fps: float, width: int, height: int) -> None:
        import av

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), "w")
        self._stream = self._container.add_stream("libx264", rate=max(1, round(fps)))
        # yuv420p needs even sizes; odd ones lose their last row / column.
        self._stream.width, self._stream.height = width - width % 2, height - height % 2
        self._stream.pix_fmt = "yuv420p"

    def write(self, frame: np.ndarray, masks: np.ndarray, object_ids: list[int]) -> None:
        import av

        image = overlay_masks(frame, masks, colors=object_colors(object_ids))
        image = np.ascontiguousarray(image[: self._stream.height, : self._stream.width])
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()


def in_frame_order(results: Iterable[dict]) -> Iterator[dict]:
    """Re-order a stream whose first stretch runs backwards (the pipeline's ``direction="both"``)
    into increasing frame order. The backward stretch is held as bit-packed masks (1 bit per
    pixel) until the stream turns forward; from then on results pass straight through."""
    iterator = iter(results)
    held: list[dict] = []
    for result in iterator:
        if held and result["frame_idx"] > held[-1]["frame_idx"]:
            yield from (_unpack(r) for r in reversed(held))
            yield result
            yield from iterator
            return
        held.append(_pack(result))
    yield from (_unpack(r) for r in reversed(held))


def _pack(result: dict) -> dict:
    return {**result, "masks": np.packbits(result["masks"], axis=-1), "width": result["masks"].shape[-1]}


def _unpack(result: dict) -> dict:
    packed = dict(result)
    width = packed.pop("width")
    packed["masks"] = np.unpackbits(packed["masks"], axis=-1, count=width).astype(bool)
    return packed


def write_video_outputs(results: Iterable[dict], folder: Path, source, video_id: str, masklet_type: str,
                        prompted: Iterable[tuple[int, int]] = (), png_layout: str = "davis", overlay: bool = True) -> int:
    """Stream pipeline results into ``folder``: ``masks/`` (``png_layout`` "davis": one indexed
    PNG per frame; "sav": one binary PNG per object and frame), ``masklets.json`` (SA-V style
    RLE) and, with ``overlay``, ``overlay.mp4``. Returns the number of frames written."""
    from .masklets import MaskletJsonWriter

    if png_layout not in ("davis", "sav"):
        raise ValueError(f"png_layout is 'davis' or 'sav', got {png_layout!r}")
    png = (IndexedPngWriter if png_layout == "davis" else PerObjectPngWriter)(folder / "masks")
    masklets = MaskletJsonWriter(folder / "masklets.json", video_id, source.height, source.width,
                                 getattr(source, "fps", None), masklet_type)
    for frame_idx, object_id in prompted:
        masklets.mark_prompted(frame_idx, object_id)
    video = OverlayVideoWriter(folder / "overlay.mp4", getattr(source, "fps", None) or 24, source.width, source.height) if overlay else None
    count = 0
    try:
        for result in in_frame_order(results):
            png.write(result["frame_idx"], result["masks"], result["object_ids"])
            masklets.write(result["frame_idx"], result["masks"], result["object_ids"])
            if video is not None:
                video.write(source.frame(result["frame_idx"]), result["masks"], result["object_ids"])
            count += 1
    finally:
        if video is not None:
            video.close()
    masklets.close()
    return count
