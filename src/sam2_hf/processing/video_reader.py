"""Frame sources: video files, frame folders, arrays and endless streams behind one interface.

Frames are decoded lazily, when the session asks for them, and only a small window of decoded
frames is cached, so memory does not grow with the length of the video.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .image_processor import to_rgb_uint8

VIDEO_SUFFIXES = {".mp4", ".avi", ".webm", ".mov", ".mkv", ".m4v"}
FRAME_SUFFIXES = {".jpg", ".jpeg", ".png"}


class FrameSource:
    """Random access to RGB frames ``(H, W, 3)`` uint8 of one video.

    ``num_frames`` is ``None`` while the end of a stream is unknown.
    """

    height: int
    width: int

    @property
    def num_frames(self) -> int | None:
        raise NotImplementedError

    def frame(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Release files or decoders (the source cannot be read afterwards)."""

    def _check_index(self, index: int) -> None:
        if index < 0 or (self.num_frames is not None and index >= self.num_frames):
            raise ValueError(f"frame {index} does not exist: the video has {self.num_frames} frames")

    def _check_size(self, frame: np.ndarray, index: int) -> np.ndarray:
        if frame.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"frame {index} is {frame.shape[1]}x{frame.shape[0]} but the video is {self.width}x{self.height}"
            )
        return frame


class ArraySource(FrameSource):
    """Frames already in memory: a ``(T, H, W, 3)`` array / tensor or a list of images."""

    def __init__(self, frames: np.ndarray | torch.Tensor | list[Any]) -> None:
        if isinstance(frames, torch.Tensor):
            frames = frames.detach().cpu().numpy()
        if isinstance(frames, np.ndarray) and (frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4)):
            raise ValueError(f"a video array must be (T, H, W, 3), got shape {frames.shape}")
        if len(frames) == 0:
            raise ValueError("the video has zero frames")
        self.frames = frames
        first = to_rgb_uint8(frames[0])
        self.height, self.width = first.shape[:2]

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def frame(self, index: int) -> np.ndarray:
        self._check_index(index)
        return self._check_size(to_rgb_uint8(self.frames[index]), index)


def _frame_sort_key(path: Path) -> tuple:
    """Integer file names sort numerically (``2.jpg`` before ``10.jpg``), others by name."""
    digits = re.fullmatch(r"\D*(\d+)", path.stem)
    return (0, int(digits.group(1)), path.name) if digits else (1, 0, path.name)


MAX_FRAME_PIXELS = 2**26  # 8192 x 8192; the model sees 1024 x 1024 at most


class FolderSource(FrameSource):
    """A folder of JPEG/PNG frames (``00000.jpg``, ...), read one at a time."""

    def __init__(self, folder: str | Path) -> None:
        self.paths = sorted(
            (p for p in Path(folder).iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=_frame_sort_key
        )
        if not self.paths:
            raise ValueError(f"{folder} holds no JPEG or PNG frame")
        self.height, self.width = self._read(0).shape[:2]

    @property
    def num_frames(self) -> int:
        return len(self.paths)

    def _read(self, index: int) -> np.ndarray:
        try:
            with Image.open(self.paths[index]) as image:
                # The header says how large the frame is: refuse a decompression bomb before decoding it.
                if image.width * image.height > MAX_FRAME_PIXELS:
                    raise ValueError(f"frame {self.paths[index]} claims {image.width}x{image.height} pixels, more than "
                                     f"the {MAX_FRAME_PIXELS:,} a frame may have")
                return to_rgb_uint8(image)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
            raise ValueError(f"cannot read frame {self.paths[index]}: {error}") from None

    def frame(self, index: int) -> np.ndarray:
        self._check_index(index)
        return self._check_size(self._read(index), index)


class VideoFileSource(FrameSource):
    """A video file decoded with PyAV on demand.

    Opening demuxes the packets once (no decoding) to learn the frame count and where the key
    frames are. Reading frame ``i`` continues the running decoder when ``i`` is just ahead of it,
    otherwise seeks to the key frame before ``i``; decoded frames go to a small LRU cache, so
    stepping backwards through a group of pictures decodes it once.
    """

    def __init__(self, path: str | Path, cache_size: int = 48) -> None:
        import av

        self.path = Path(path)
        self.cache_size = cache_size
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        try:
            self._container = av.open(str(self.path))
            if not self._container.streams.video:
                raise ValueError(f"{self.path} has no video stream")
            self._stream = self._container.streams.video[0]
            packets = [(p.pts, p.is_keyframe) for p in self._container.demux(self._stream) if p.pts is not None and p.size]
        except av.error.FFmpegError as error:
            raise ValueError(f"cannot read video {self.path}: {error}") from None
        if not packets:
            raise ValueError(f"{self.path} has zero frames")
        self._pts = sorted(pts for pts, _ in packets)
        self._index_of_pts = {pts: i for i, pts in enumerate(self._pts)}
        self._keyframe_indices = sorted(self._index_of_pts[pts] for pts, key in packets if key) or [0]
        self._decoder: Iterator | None = None
        self._next_index = -1
        self.height, self.width = self._stream.codec_context.height, self._stream.codec_context.width
        self.fps = float(self._stream.average_rate or 0) or None

    @property
    def num_frames(self) -> int:
        return len(self._pts)

    def frame(self, index: int) -> np.ndarray:
        self._check_index(index)
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        if self._decoder is None or not (self._next_index <= index < self._next_index + self.cache_size):
            self._seek(index)
        while True:
            decoded = self._decode_next()
            if decoded is None:
                raise ValueError(f"{self.path}: frame {index} could not be decoded (truncated or corrupt file?)")
            position, image = decoded
            if position == index:
                return self._check_size(image, index)

    def _seek(self, index: int) -> None:
        import av

        keyframe = self._keyframe_indices[max(bisect.bisect_right(self._keyframe_indices, index) - 1, 0)]
        try:
            self._container.seek(self._pts[keyframe], stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError as error:
            raise ValueError(f"cannot seek in {self.path}: {error}") from None
        self._decoder = self._container.decode(self._stream)
        self._next_index = keyframe

    def _decode_next(self) -> tuple[int, np.ndarray] | None:
        import av

        try:
            video_frame = next(self._decoder)
        except StopIteration:
            return None
        except av.error.FFmpegError as error:
            raise ValueError(f"cannot decode {self.path}: {error}") from None
        position = self._index_of_pts.get(video_frame.pts, self._next_index)
        self._next_index = position + 1
        image = video_frame.to_ndarray(format="rgb24")
        self._cache[position] = image
        self._cache.move_to_end(position)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return position, image

    def close(self) -> None:
        self._container.close()
        self._cache.clear()


class StreamSource(FrameSource):
    """Frames that arrive one after another with no known end (a camera, a generator).

    Frames are pulled from ``frames`` when first asked for, or appended with :meth:`append`;
    only the last ``buffer_size`` frames stay readable.
    """

    def __init__(self, frames: Iterable[Any] | None = None, buffer_size: int = 16) -> None:
        self._iterator = iter(frames) if frames is not None else None
        self._buffer: OrderedDict[int, np.ndarray] = OrderedDict()
        self.buffer_size = buffer_size
        self._count = 0
        self._ended = self._iterator is None
        self.height = self.width = 0
        if self._iterator is not None and self._pull() is None:
            raise ValueError("the video has zero frames")

    @property
    def num_frames(self) -> int | None:
        """Known only once the stream has ended (an append-only stream never ends)."""
        return self._count if self._ended and self._iterator is not None else None

    @property
    def frames_seen(self) -> int:
        return self._count

    @property
    def is_live(self) -> bool:
        """Fed with :meth:`append` only (no iterator to pull from)."""
        return self._iterator is None

    def append(self, frame: Any) -> int:
        """Add the next frame; returns its index."""
        image = to_rgb_uint8(frame)
        if self._count == 0:
            self.height, self.width = image.shape[:2]
        else:
            self._check_size(image, self._count)
        index = self._count
        self._buffer[index] = image
        self._count += 1
        while len(self._buffer) > self.buffer_size:
            self._buffer.popitem(last=False)
        return index

    def _pull(self) -> int | None:
        if self._ended:
            return None
        try:
            frame = next(self._iterator)
        except StopIteration:
            self._ended = True
            return None
        return self.append(frame)

    def frame(self, index: int) -> np.ndarray:
        self._check_index(index)
        while index >= self._count:
            if self._pull() is None:
                raise ValueError(f"frame {index} does not exist: the stream ended after {self._count} frames")
        if index not in self._buffer:
            raise ValueError(f"frame {index} of the stream is no longer buffered (only the last {self.buffer_size} are kept)")
        return self._buffer[index]


def open_video(video: Any) -> FrameSource:
    """The frame source for anything a session accepts: a video file or frame folder path, a
    ``(T, H, W, 3)`` array or tensor, a list of frames, or any other iterable of frames."""
    if isinstance(video, FrameSource):
        return video
    if isinstance(video, (str, Path)):
        path = Path(video)
        if path.is_dir():
            return FolderSource(path)
        if not path.is_file():
            raise ValueError(f"video not found: {path}")
        return VideoFileSource(path)
    if isinstance(video, (np.ndarray, torch.Tensor, list, tuple)):
        return ArraySource(list(video) if isinstance(video, tuple) else video)
    if isinstance(video, Iterable):
        return StreamSource(video)
    raise ValueError(f"unsupported video type {type(video).__name__}: give a path, an array, a list or an iterable of frames")
