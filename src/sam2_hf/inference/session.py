"""VideoSession: all the state of tracking objects through one video.

The session owns the frame source, a small cache of encoded frames, each object's prompts and
memory bank, and asks the stateless :class:`~sam2_hf.Sam2VideoModel` for one frame at a time.
Semantics follow the reference video predictor (conditioning vs. tracked frames, 7 memories,
16 object pointers, multimask on the first click); what differs is that frames are decoded when
needed, results are streamed, and memories no frame can attend to any more are dropped.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..modeling.cpu_features import emulated_precision_warning
from ..modeling.outputs import Sam2FrameFeatures, Sam2MemoryTokens
from ..modeling.precision import has_float32_matmul_weights, with_matmul_weights_in
from ..modeling.video_model import NO_OBJECT_SCORE, Sam2VideoModel
from ..processing.image_processor import Sam2ImageProcessor
from ..processing.video_reader import StreamSource, open_video
from .memory_bank import FrameMemory, ObjectMemoryBank, select_object_pointers, select_spatial_memories
from .output_store import OutputStore
from .postprocess import fill_holes, keep_only_top_object, remove_sprinkles
from .tracked_frames import TrackedFrames

logger = logging.getLogger(__name__)

BOX_LABELS = (2, 3)
DEFAULT_FILL_HOLE_AREA = 8  # the official predictor's default


@dataclass
class FrameResult:
    """Masks of every object on one frame, at the video's resolution.

    Args:
        frame_idx: index of the frame in the video.
        object_ids: the objects, sorted; rows of the tensors follow this order.
        mask_logits: ``(num_objects, H, W)`` float logits before thresholding.
        masks: ``(num_objects, H, W)`` bool, ``mask_logits > threshold``.
        object_scores: ``(num_objects,)`` object-presence logits (> 0: visible).
    """

    frame_idx: int
    object_ids: list[int]
    mask_logits: torch.Tensor
    masks: torch.Tensor
    object_scores: torch.Tensor


@dataclass
class _Prompt:
    points: torch.Tensor | None = None  # (P, 2) in model-input pixels
    labels: torch.Tensor | None = None  # (P,)
    mask: torch.Tensor | None = None  # (1, 1, S, S) binary


class _TrackedObject:
    def __init__(self, object_id: int) -> None:
        self.object_id = object_id
        self.prompts: dict[int, _Prompt] = {}
        self.bank = ObjectMemoryBank()
        self.tracked = TrackedFrames()


class VideoSession:
    """Interactive, streaming segmentation of objects in one video.

    Open it as ``VideoSession(model, video)``. Prompts (:meth:`add_points`,
    :meth:`add_box`, :meth:`add_mask`) may come for any object on any frame at any time;
    :meth:`propagate` yields one :class:`FrameResult` per frame; :meth:`push_frame` feeds a live
    stream frame by frame.

    Args:
        model: the video model (its device and dtype are used).
        video: a video file, a folder of frames, a ``(T, H, W, 3)`` array, a list or an iterable of
            frames; ``None`` for a live stream fed with :meth:`push_frame`.
        fill_hole_area: fill background holes of at most this many pixels in the low-res masks
            (the reference's default, :data:`DEFAULT_FILL_HOLE_AREA`; 0 disables).
        remove_sprinkle_area: remove foreground specks of at most this many pixels (0 disables).
        non_overlap_masks: each pixel goes to the highest-scoring object only.
        offload_to_cpu: keep memories and masks in CPU memory when the model runs on a GPU.
        feature_cache_size: encoded frames kept (a click re-uses its frame's encoding).
        dtype: run the model under autocast in this dtype (e.g. ``torch.bfloat16``). The session
            then runs a copy of the model whose linear and convolution weights are stored in it
            (:func:`~sam2_hf.modeling.precision.with_matmul_weights_in`: the same results, without
            casting them on every call); the model passed in is left as it is. A reduced
            precision on a CPU without instructions for it is emulated, slower than float32: the
            session logs a warning then.
        compile: compile the model's image encoder first (see
            :meth:`Sam2VideoModel.compile_for_tracking`); pays off on GPUs, not on CPUs.
        corrections_as_conditioning: a click on an already-tracked frame makes it a prompted
            (conditioning) frame, so re-tracking keeps the correction. The reference's default is
            ``False``, where such a click refines only that frame until tracking runs over it again.
        keep_all_memories: keep every tracked frame's memory, as the reference does (memory then
            grows with the video). By default only memories a later frame can attend to are kept:
            those near the frame being tracked and near prompted frames.
        mask_threshold: logit above which a pixel is in the mask.
        prefetch: decode and preprocess the next frame in a background thread while tracking.
            By default only when the model runs on an accelerator: on a CPU the model already
            uses every core, and the second thread's work slowed tracking down (a tracked frame
            3.75 s without, 3.95 s with, median of 3 runs on 2 cores).
        output_store: a folder where every frame's latest result is written as it is produced;
            :meth:`stored_result` reads a past frame back (results are otherwise only streamed).
    """

    def __init__(
        self,
        model: Sam2VideoModel,
        video: Any = None,
        *,
        fill_hole_area: int = DEFAULT_FILL_HOLE_AREA,
        remove_sprinkle_area: int = 0,
        non_overlap_masks: bool = False,
        offload_to_cpu: bool = False,
        feature_cache_size: int = 2,
        dtype: torch.dtype | None = None,
        compile: bool = False,
        corrections_as_conditioning: bool = False,
        keep_all_memories: bool = False,
        mask_threshold: float | None = None,
        prefetch: bool | None = None,
        output_store: str | Path | None = None,
    ) -> None:
        if dtype is not None and dtype != torch.float32 and has_float32_matmul_weights(model):
            model = with_matmul_weights_in(model, dtype)
        slow_dtype = emulated_precision_warning(dtype, model.device)
        if slow_dtype:
            logger.warning(slow_dtype)
        self.model = model.eval()
        if compile:
            model.compile_for_tracking()
        config = model.config
        self.config = config
        self.source = open_video(video) if video is not None else StreamSource()
        self.processor = Sam2ImageProcessor(config.image_size, config.image_mean, config.image_std)
        self.fill_hole_area = fill_hole_area
        self.remove_sprinkle_area = remove_sprinkle_area
        self.non_overlap_masks = non_overlap_masks
        self.storage_device = torch.device("cpu") if offload_to_cpu else model.device
        self.feature_cache_size = max(1, feature_cache_size)
        self.dtype = dtype
        self.corrections_as_conditioning = corrections_as_conditioning
        self.keep_all_memories = keep_all_memories
        self.mask_threshold = config.mask_threshold if mask_threshold is None else mask_threshold
        memory_config = config.memory_config
        # Beyond this many frames behind the tracked one, no later frame attends to a memory.
        self._memory_horizon = max(memory_config.max_object_pointers, memory_config.num_maskmem)
        self._objects: dict[int, _TrackedObject] = {}
        self._features: OrderedDict[int, Sam2FrameFeatures] = OrderedDict()
        self._source_lock = Lock()
        if prefetch is None:
            prefetch = model.device.type != "cpu"
        self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sam2-prefetch") if prefetch else None
        self._prefetched: dict[int, Future] = {}
        self.output_store = OutputStore(output_store) if output_store is not None else None

    # -- public API ----------------------------------------------------------------------------

    @property
    def num_frames(self) -> int | None:
        """Frames in the video; ``None`` for a stream whose end is not known."""
        return self.source.num_frames

    @property
    def video_size(self) -> tuple[int, int]:
        """``(height, width)`` of the video."""
        return self.source.height, self.source.width

    @property
    def object_ids(self) -> list[int]:
        return sorted(self._objects)

    def prompted_frames(self) -> dict[int, list[int]]:
        """The frames each object has prompts on, by object id."""
        return {obj_id: sorted(obj.prompts) for obj_id, obj in sorted(self._objects.items())}

    def add_points(
        self, frame_idx: int, obj_id: int, points: Any, labels: Any, clear_old_points: bool = True
    ) -> FrameResult:
        """Clicks ``points`` ``(P, 2)`` (``x, y`` in video pixels) with ``labels`` ``(P,)``
        (1 positive, 0 negative) for object ``obj_id`` on frame ``frame_idx``; new ids add an
        object. Returns the masks of all objects on that frame."""
        self._check_frame(frame_idx)
        object_id = _check_object_id(obj_id)
        coords = self._to_model_coords(_as_points(points, "points"))
        labels = _as_labels(labels, len(coords))
        old = self._objects.get(object_id)
        previous = None if clear_old_points or old is None else old.prompts.get(frame_idx)
        if previous is not None and previous.points is not None:
            coords = torch.cat([previous.points, coords])
            labels = torch.cat([previous.labels, labels])
        return self._prompt(frame_idx, object_id, _Prompt(points=coords, labels=labels))

    def add_box(self, frame_idx: int, obj_id: int, box: Any, points: Any = None, labels: Any = None) -> FrameResult:
        """A box ``[x0, y0, x1, y1]`` (video pixels), optionally with clicks, replacing the
        object's earlier prompts on this frame."""
        self._check_frame(frame_idx)
        object_id = _check_object_id(obj_id)
        corners = _as_points(box, "box", expected=2)
        if (corners[1] < corners[0]).any():
            raise ValueError("a box is [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1")
        coords = self._to_model_coords(corners)
        box_labels = torch.tensor(BOX_LABELS)
        if points is not None:
            clicks = self._to_model_coords(_as_points(points, "points"))
            coords = torch.cat([coords, clicks])
            box_labels = torch.cat([box_labels, _as_labels(labels, len(clicks))])
        return self._prompt(frame_idx, object_id, _Prompt(points=coords, labels=box_labels))

    def add_mask(self, frame_idx: int, obj_id: int, mask: Any) -> FrameResult:
        """A binary mask ``(H, W)`` at the video's resolution for object ``obj_id``."""
        self._check_frame(frame_idx)
        object_id = _check_object_id(obj_id)
        mask = torch.as_tensor(np.asarray(mask))
        if mask.ndim != 2 or tuple(mask.shape) != self.video_size:
            raise ValueError(f"a mask must have the video's shape {self.video_size}, got {tuple(mask.shape)}")
        if mask.is_floating_point() and not torch.isfinite(mask).all():
            raise ValueError("the mask contains NaN or infinite values")
        size = self.config.image_size
        resized = F.interpolate(mask.bool().float()[None, None], size=(size, size), mode="bilinear",
                                align_corners=False, antialias=True)
        return self._prompt(frame_idx, object_id, _Prompt(mask=(resized >= 0.5).float()))

    def propagate(
        self, start_frame_idx: int | None = None, max_frames: int | None = None, reverse: bool = False
    ) -> Iterator[FrameResult]:
        """Track every prompted object frame by frame, yielding one result per frame.

        Args:
            start_frame_idx: first frame (default: the earliest prompted frame).
            max_frames: stop after this many frames (default: to the end, or frame 0 in reverse).
            reverse: track towards the beginning of the video.
        """
        self._commit_prompts()
        if start_frame_idx is None:
            start_frame_idx = min(t for obj in self._objects.values() for t in obj.bank.conditioning)
        self._check_frame(start_frame_idx)
        step = -1 if reverse else 1
        frame_idx, done = start_frame_idx, 0
        total = self._frames_to_go(start_frame_idx, reverse, max_frames)
        with tqdm(total=total, desc="tracking", unit="frame", disable=total is not None and total < 2, leave=False) as bar:
            while frame_idx >= 0 and (max_frames is None or done < max_frames):
                if not self._frame_exists(frame_idx):
                    break
                result = self._track_frame(frame_idx, reverse)
                self._prefetch(frame_idx + step)
                done += 1
                bar.update()
                yield result
                frame_idx += step

    def push_frame(self, frame: Any) -> FrameResult:
        """Append the next frame of a live stream (a session started with no video) and track
        every prompted object on it. Before any prompt the result has no objects."""
        if not isinstance(self.source, StreamSource) or not self.source.is_live:
            raise ValueError("push_frame is for live streams: start the session with no video")
        with self._source_lock:
            frame_idx = self.source.append(frame)
        if not self._objects:
            return self._result(frame_idx)
        self._commit_prompts()
        return self._track_frame(frame_idx, reverse=False)

    def remove_object(self, obj_id: int) -> None:
        """Forget an object and all its prompts."""
        self._objects.pop(self._existing(obj_id).object_id)

    def clear_frame(self, frame_idx: int, obj_id: int | None = None) -> FrameResult:
        """Remove the prompts of one object (or of all) on a frame. The frame's result stays as a
        tracked memory, as in the reference. Returns the frame's masks."""
        self._check_frame(frame_idx)
        objects = [self._existing(obj_id)] if obj_id is not None else list(self._objects.values())
        for obj in objects:
            obj.prompts.pop(frame_idx, None)
            obj.bank.pending.pop(frame_idx, None)
            entry = obj.bank.conditioning.pop(frame_idx, None)
            if entry is not None:
                obj.bank.tracked[frame_idx] = entry
                obj.tracked.discard(frame_idx)
        return self._result(frame_idx)

    def reset(self) -> None:
        """Forget every object and prompt (the video and its cached frames stay)."""
        self._objects.clear()

    def close(self) -> None:
        """Release the video file and the prefetch thread."""
        if self._prefetcher is not None:
            self._prefetcher.shutdown(wait=True, cancel_futures=True)
        self.source.close()

    def __enter__(self) -> "VideoSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- prompts ---------------------------------------------------------------------------

    def _prompt(self, frame_idx: int, object_id: int, prompt: _Prompt) -> FrameResult:
        obj = self._objects.get(object_id) or _TrackedObject(object_id)
        direction = obj.tracked.get(frame_idx)
        is_first_visit = direction is None
        is_conditioning = is_first_visit or self.corrections_as_conditioning
        device = self.model.device
        previous_logits = None
        if prompt.points is not None:
            latest = obj.bank.latest(frame_idx)
            if latest is not None:
                previous_logits = latest.low_res_masks.to(device).clamp(-32.0, 32.0)
        num_points = 0 if prompt.points is None else len(prompt.points)
        with self._inference():
            features = self._frame_features(frame_idx).expand(1)
            memory = None if is_first_visit else self._memory_tokens([obj], frame_idx, bool(direction))
            out = self.model.track_step(
                features,
                memory,
                point_coords=None if prompt.points is None else prompt.points[None].to(device),
                point_labels=None if prompt.labels is None else prompt.labels[None].to(device),
                mask_inputs=None if prompt.mask is None else prompt.mask.to(device),
                previous_mask_logits=previous_logits,
                multimask_output=self.config.memory_config.multimask_output(num_points, from_memory=not is_first_visit),
            )
            entry = FrameMemory(
                low_res_masks=self._clean(out.low_res_masks).to(self.storage_device),
                object_pointer=out.object_pointer.to(self.storage_device),
                object_score_logits=out.object_score_logits.to(self.storage_device),
            )
        obj.prompts[frame_idx] = prompt
        obj.bank.pending[frame_idx] = (entry, is_conditioning)
        self._objects[object_id] = obj  # only now: a failed prompt leaves no trace
        return self._result(frame_idx)

    def _commit_prompts(self) -> None:
        """Make prompt results visible to other frames, encoding their memories (as the
        reference does before tracking: from the shown mask, thresholded)."""
        if not self._objects:
            raise ValueError("no object to track: add points, a box or a mask first")
        for obj in self._objects.values():
            if not obj.bank.pending and not obj.bank.conditioning:
                raise ValueError(f"object {obj.object_id} has no prompt: add points, a box or a mask for it")
        for obj in self._objects.values():
            for frame_idx, entry in obj.bank.commit_pending():
                with self._inference():
                    features = self._frame_features(frame_idx).expand(1)
                    high_res = self.model.upsample_masks(entry.low_res_masks.to(self.model.device))
                    memory = self.model.encode_memory(
                        features, high_res, entry.object_score_logits.to(self.model.device), binarize=True
                    )
                entry.memory = memory.to(torch.bfloat16).to(self.storage_device)

    # -- tracking ----------------------------------------------------------------------------

    def _track_frame(self, frame_idx: int, reverse: bool) -> FrameResult:
        """Segment every object on one frame from its memories; prompted frames keep their result.
        An object first prompted while a propagation runs has no memory yet: it joins the next one."""
        active = [obj for obj in self._objects.values() if obj.bank.conditioning]
        to_track = [obj for obj in active if frame_idx not in obj.bank.conditioning]
        if to_track:
            with self._inference():
                features = self._frame_features(frame_idx)
                outputs = {}
                for group in self._group_by_memory_layout(to_track, frame_idx, reverse):
                    memory = self._memory_tokens(group, frame_idx, reverse)
                    step = self.model.track_step(
                        features.expand(len(group)), memory, multimask_output=self.config.memory_config.multimask_output(0, from_memory=True)
                    )
                    for i, obj in enumerate(group):
                        outputs[obj.object_id] = (step, i)
                steps = [outputs[obj.object_id] for obj in to_track]
                high_res = torch.cat([step.high_res_masks[i : i + 1] for step, i in steps])
                scores = torch.cat([step.object_score_logits[i : i + 1] for step, i in steps])
                memories = self.model.encode_memory(features.expand(len(to_track)), high_res, scores, binarize=False)
                memories = memories.to(torch.bfloat16).to(self.storage_device)
                for row, (obj, (step, i)) in enumerate(zip(to_track, steps)):
                    obj.bank.tracked[frame_idx] = FrameMemory(
                        low_res_masks=self._clean(step.low_res_masks[i : i + 1]).to(self.storage_device),
                        object_pointer=step.object_pointer[i : i + 1].to(self.storage_device),
                        object_score_logits=step.object_score_logits[i : i + 1].to(self.storage_device),
                        memory=memories[row : row + 1],
                    )
        for obj in active:
            obj.tracked.add(frame_idx, reverse)
            if not self.keep_all_memories:
                self._forget_unreachable(obj, frame_idx, reverse)
        return self._result(frame_idx)

    def _memory_layout(self, obj: _TrackedObject, frame_idx: int, reverse: bool):
        memory_config = self.config.memory_config
        conditioning = list(obj.bank.conditioning)
        spatial = select_spatial_memories(frame_idx, conditioning, obj.bank.tracked, memory_config.num_maskmem, reverse)
        pointers, max_distance = select_object_pointers(
            frame_idx, conditioning, obj.bank.tracked, reverse, memory_config.max_object_pointers,
            self.num_frames, memory_config.signed_temporal_encoding,
        )
        return spatial, pointers, max_distance

    def _group_by_memory_layout(self, objects: list[_TrackedObject], frame_idx: int, reverse: bool) -> list[list[_TrackedObject]]:
        """Objects whose memories have the same temporal layout run through the model together."""
        groups: dict[tuple, list[_TrackedObject]] = defaultdict(list)
        for obj in objects:
            spatial, pointers, max_distance = self._memory_layout(obj, frame_idx, reverse)
            key = (tuple(i for _, i in spatial), tuple(d for _, d in pointers), max_distance)
            groups[key].append(obj)
        return list(groups.values())

    def _memory_tokens(self, objects: list[_TrackedObject], frame_idx: int, reverse: bool) -> Sam2MemoryTokens:
        device = self.model.device
        layouts = [self._memory_layout(obj, frame_idx, reverse) for obj in objects]
        banks = [obj.bank for obj in objects]

        def stacked(frames: list[int], field: str) -> torch.Tensor:
            entries = [bank.conditioning.get(t) or bank.tracked[t] for bank, t in zip(banks, frames)]
            return torch.cat([getattr(entry, field) for entry in entries]).to(device)

        spatial, pointers, max_distance = layouts[0]
        spatial_memories = [
            (stacked([layout[0][j][0] for layout in layouts], "memory"), index) for j, (_, index) in enumerate(spatial)
        ]
        object_pointers = [
            (stacked([layout[1][j][0] for layout in layouts], "object_pointer"), distance)
            for j, (_, distance) in enumerate(pointers)
        ]
        return self.model.build_memory(spatial_memories, object_pointers, max_distance)

    def _forget_unreachable(self, obj: _TrackedObject, frame_idx: int, reverse: bool) -> None:
        """Drop tracked memories far behind the current frame and far from every prompted frame
        (tracking back from a prompt, or re-prompting near one, still finds its neighbours)."""
        horizon = self._memory_horizon
        prompted = list(obj.bank.conditioning)
        for t in list(obj.bank.tracked):
            behind = (t > frame_idx + horizon) if reverse else (t < frame_idx - horizon)
            if behind and all(abs(t - c) > horizon for c in prompted):
                del obj.bank.tracked[t]

    # -- frames ------------------------------------------------------------------------------

    def _frame_features(self, frame_idx: int) -> Sam2FrameFeatures:
        if frame_idx in self._features:
            self._features.move_to_end(frame_idx)
            return self._features[frame_idx]
        features = self.model.encode_frame(self._pixels(frame_idx)[None])
        self._features[frame_idx] = features
        while len(self._features) > self.feature_cache_size:
            self._features.popitem(last=False)
        return features

    def _load_pixels(self, frame_idx: int) -> torch.Tensor:
        with self._source_lock:
            frame = self.source.frame(frame_idx)
        pixels, _ = self.processor.preprocess(frame, resize_mode="video")
        return pixels

    def _pixels(self, frame_idx: int) -> torch.Tensor:
        future = self._prefetched.pop(frame_idx, None)
        if future is not None:
            return future.result()
        return self._load_pixels(frame_idx)

    def _prefetch(self, frame_idx: int) -> None:
        """Start decoding the frame tracked next, unless it is cached or may not exist yet."""
        if self._prefetcher is None or frame_idx in self._features or frame_idx in self._prefetched:
            return
        if frame_idx < 0 or self.num_frames is None or frame_idx >= self.num_frames:
            return
        for stale in [t for t in self._prefetched if abs(t - frame_idx) > 2]:
            self._prefetched.pop(stale).cancel()
        self._prefetched[frame_idx] = self._prefetcher.submit(self._load_pixels, frame_idx)

    def _frame_exists(self, frame_idx: int) -> bool:
        if self.num_frames is not None:
            return frame_idx < self.num_frames
        if frame_idx < self.source.frames_seen:
            return True
        try:  # a stream: pull until the frame arrives or the stream ends
            with self._source_lock:
                self.source.frame(frame_idx)
            return True
        except ValueError:
            if frame_idx >= self.source.frames_seen:  # not (yet) there: the end for now
                return False
            raise

    def _frames_to_go(self, start: int, reverse: bool, max_frames: int | None) -> int | None:
        available = start + 1 if reverse else (None if self.num_frames is None else self.num_frames - start)
        if available is None:
            return max_frames
        return available if max_frames is None else min(available, max_frames)

    def _check_frame(self, frame_idx: int) -> None:
        if not isinstance(frame_idx, (int, np.integer)) or isinstance(frame_idx, bool):
            raise ValueError(f"a frame index must be an integer, got {frame_idx!r}")
        if frame_idx < 0:
            raise ValueError(f"frame {frame_idx} does not exist: frame indices start at 0")
        if self.num_frames is not None and frame_idx >= self.num_frames:
            raise ValueError(f"frame {frame_idx} does not exist: the video has {self.num_frames} frames")
        if self.num_frames is None and isinstance(self.source, StreamSource) and frame_idx >= self.source.frames_seen:
            if not self._frame_exists(frame_idx):
                raise ValueError(f"frame {frame_idx} does not exist: the stream has {self.source.frames_seen} frames")

    def _to_model_coords(self, points: torch.Tensor) -> torch.Tensor:
        height, width = self.video_size
        outside = (points[:, 0] < 0) | (points[:, 0] > width) | (points[:, 1] < 0) | (points[:, 1] > height)
        if outside.any():
            x, y = points[outside][0].tolist()
            raise ValueError(f"point ({x:g}, {y:g}) lies outside the {width}x{height} (WxH) video")
        return self.processor.map_coordinates(points, (height, width))

    def _existing(self, obj_id: int) -> _TrackedObject:
        obj = self._objects.get(obj_id)
        if obj is None:
            raise ValueError(f"unknown object id {obj_id!r}; known: {self.object_ids}")
        return obj

    # -- results -----------------------------------------------------------------------------

    def _clean(self, low_res: torch.Tensor) -> torch.Tensor:
        low_res = fill_holes(low_res, self.fill_hole_area)
        return remove_sprinkles(low_res, self.remove_sprinkle_area)

    def _result(self, frame_idx: int) -> FrameResult:
        """The latest masks of every object on a frame (saved to the output store, if any)."""
        object_ids = self.object_ids
        device = self.model.device
        size = 4 * self.config.image_embedding_size
        low_res, scores = [], []
        for object_id in object_ids:
            entry = self._objects[object_id].bank.latest(frame_idx)
            if entry is None:
                low_res.append(torch.full((1, 1, size, size), NO_OBJECT_SCORE, device=device))
                scores.append(torch.full((1,), NO_OBJECT_SCORE, device=device))
            else:
                low_res.append(entry.low_res_masks.to(device))
                scores.append(entry.object_score_logits.reshape(1).to(device).float())
        if not object_ids:
            return self._frame_result(frame_idx, [], torch.zeros(0, 1, size, size, device=device), torch.zeros(0, device=device))
        low_res, scores = torch.cat(low_res).float(), torch.cat(scores)
        if self.output_store is not None:
            self.output_store.save(frame_idx, object_ids, low_res, scores)
        return self._frame_result(frame_idx, object_ids, low_res, scores)

    def stored_result(self, frame_idx: int) -> FrameResult:
        """A past frame's result read back from the output store (``output_store=`` option)."""
        if self.output_store is None:
            raise ValueError("this session keeps no results: open it with output_store=FOLDER")
        object_ids, low_res, scores = self.output_store.load(frame_idx)
        return self._frame_result(frame_idx, object_ids, low_res.to(self.model.device), scores.to(self.model.device))

    def _frame_result(self, frame_idx: int, object_ids: list[int], low_res: torch.Tensor, scores: torch.Tensor) -> FrameResult:
        """Low-res logits ``(N, 1, s, s)`` -> a result at the video's resolution."""
        height, width = self.video_size
        logits = F.interpolate(low_res, size=(height, width), mode="bilinear", align_corners=False)
        if self.non_overlap_masks:
            logits = keep_only_top_object(logits)
        logits = logits[:, 0]
        return FrameResult(frame_idx, object_ids, logits, logits > self.mask_threshold, scores)

    @contextlib.contextmanager
    def _inference(self):
        device_type = self.model.device.type
        autocast = self.dtype is not None and self.dtype != torch.float32
        with torch.inference_mode(), torch.autocast(device_type, dtype=self.dtype, enabled=autocast):
            yield


def _check_object_id(obj_id: Any) -> int:
    if not isinstance(obj_id, (int, np.integer)) or isinstance(obj_id, bool):
        raise ValueError(f"object ids are integers, got {obj_id!r}")
    return int(obj_id)


def _as_points(value: Any, name: str, expected: int | None = None) -> torch.Tensor:
    try:
        array = np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError):
        raise ValueError(f"{name} must be numbers: (x, y) pairs") from None
    if array.size % 2 or (array.ndim > 1 and array.shape[-1] != 2):
        raise ValueError(f"{name} must be (x, y) pairs, got shape {array.shape}")
    points = torch.from_numpy(array.reshape(-1, 2).copy())
    if points.numel() == 0:
        raise ValueError(f"{name} is empty")
    if expected is not None and len(points) != expected:
        raise ValueError(f"{name} must be [x0, y0, x1, y1]")
    if not torch.isfinite(points).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return points


def _as_labels(labels: Any, count: int) -> torch.Tensor:
    if labels is None:
        raise ValueError("points need labels (1 positive, 0 negative)")
    labels = torch.as_tensor(np.asarray(labels)).reshape(-1)
    if len(labels) != count:
        raise ValueError(f"{count} points but {len(labels)} labels")
    if not torch.isin(labels, torch.tensor([0, 1])).all():
        raise ValueError(f"point labels must be 1 (positive) or 0 (negative), got {labels.tolist()}")
    return labels.long()
