"""``pipeline("video-mask-generation")``: prompts in, a stream of per-frame masks out.

The pipeline is a thin layer over :class:`~sam2_hf.VideoSession`: ``preprocess`` opens the
video and gives the session the prompts (or, with ``points_per_side`` and no prompts, the
automatic masks of the first frame), ``_forward`` propagates, ``postprocess`` turns each frame's
result into numpy arrays. Calling the pipeline returns a generator, so a long video never piles
up in memory; the session stays open as ``pipe.session`` for corrective clicks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..inference.automatic import AutomaticMaskGenerator
from ..inference.session import FrameResult, VideoSession
from .base import AUTOMATIC_OPTIONS as GENERATOR_OPTIONS, Sam2Pipeline

Direction = Literal["forward", "backward", "both"]
PROMPT_KEYS = {"frame", "object_id", "points", "labels", "box", "mask"}
AUTOMATIC_OPTIONS = GENERATOR_OPTIONS | {"max_objects"}
SESSION_OPTIONS = {"fill_hole_area", "remove_sprinkle_area", "non_overlap_masks", "offload_to_cpu", "feature_cache_size",
                   "dtype", "compile", "corrections_as_conditioning", "keep_all_memories", "mask_threshold", "prefetch", "output_store"}


def group_prompts(prompts: list[dict]) -> dict[tuple[int, int], dict]:
    """Merge prompt dicts by ``(frame, object_id)``: clicks add up; two different boxes or masks
    for one object on one frame, or a mask mixed with clicks, are errors."""
    grouped: dict[tuple[int, int], dict] = {}
    for prompt in prompts:
        if not isinstance(prompt, dict):
            raise ValueError(f"a prompt is a dict with keys among {sorted(PROMPT_KEYS)}, got {type(prompt).__name__}")
        unknown = set(prompt) - PROMPT_KEYS
        if unknown:
            raise ValueError(f"unknown prompt keys {sorted(unknown)}; use {sorted(PROMPT_KEYS)}")
        if all(prompt.get(key) is None for key in ("points", "box", "mask")):
            raise ValueError(f"a prompt needs points, a box or a mask: {prompt}")
        frame, object_id = int(prompt.get("frame", 0)), int(prompt.get("object_id", 1))
        entry = grouped.setdefault((frame, object_id), {"points": [], "labels": [], "box": None, "mask": None})
        if prompt.get("points") is not None:
            points = np.asarray(prompt["points"], dtype=np.float64).reshape(-1, 2)
            labels = prompt.get("labels")
            labels = np.ones(len(points), np.int64) if labels is None else np.asarray(labels).reshape(-1)
            if len(labels) != len(points):
                raise ValueError(f"object {object_id} on frame {frame}: {len(points)} points but {len(labels)} labels")
            entry["points"].extend(points.tolist())
            entry["labels"].extend(labels.tolist())
        for kind in ("box", "mask"):
            value = prompt.get(kind)
            if value is None:
                continue
            value = np.asarray(value)
            if entry[kind] is not None and not np.array_equal(entry[kind], value):
                plural = {"box": "boxes", "mask": "masks"}[kind]
                raise ValueError(f"object {object_id} is prompted twice on frame {frame} with conflicting {plural}")
            entry[kind] = value
        if entry["mask"] is not None and (entry["points"] or entry["box"] is not None):
            raise ValueError(f"object {object_id} on frame {frame}: a mask prompt cannot be combined with points or a box")
    return grouped


def apply_prompts(session: VideoSession, prompts: list[dict]) -> list[tuple[int, int]]:
    """Give ``session`` every prompt; returns the ``(frame, object_id)`` pairs prompted. Clicks
    add to the object's earlier clicks on that frame, as in the interactive loop."""
    grouped = group_prompts(prompts)
    for (frame, object_id), entry in grouped.items():
        points = entry["points"] or None
        labels = entry["labels"] or None
        if entry["mask"] is not None:
            session.add_mask(frame, object_id, entry["mask"])
        elif entry["box"] is not None:
            session.add_box(frame, object_id, entry["box"], points=points, labels=labels)
        else:
            session.add_points(frame, object_id, points, labels, clear_old_points=False)
    return list(grouped)


class VideoMaskGenerationPipeline(Sam2Pipeline):
    """Track prompted objects through a video, one result per frame.

    ``pipe(video, prompts=[{"frame": 0, "object_id": 1, "points": [[x, y]], "labels": [1]}])``
    returns a generator of dicts ``{"frame_idx", "object_ids", "masks", "scores"}``: ``masks`` is
    a bool array ``(num_objects, H, W)`` at the video's resolution (or ``output_size``) and
    ``scores`` the probability that each object is visible. ``video`` is a video file, a folder
    of frames, an array ``(T, H, W, 3)``, a list or an iterator of frames. A prompt dict has
    ``frame`` (default 0), ``object_id`` (default 1) and ``points`` + ``labels`` (1 positive,
    0 negative), a ``box`` ``[x0, y0, x1, y1]`` or a ``mask`` ``(H, W)``.

    Call options: ``direction`` ("both": backward from the first prompted frame to frame 0, then
    forward; "forward"; "backward"), ``start_frame``, ``max_frames``, ``output_size``
    ``(H, W)``, ``return_all`` (a list instead of a generator); session options
    (``mask_threshold``, ``dtype``, ``compile``, ``fill_hole_area``, ``non_overlap_masks``,
    ``offload_to_cpu``, ...) when a video is opened; with no prompts, ``points_per_side`` (and
    the other :class:`~sam2_hf.inference.automatic.AutomaticMaskGenerator` options, plus
    ``max_objects``) finds and tracks every object of the start frame.

    After a call, ``pipe.session`` is the open session: call ``pipe(prompts=[...])`` with no
    video to add corrective clicks to it and track again. Corrected frames become conditioning
    frames (``corrections_as_conditioning=True``, unlike the official predictor's default, which
    would overwrite a correction on a tracked frame when it tracks again).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session: VideoSession | None = None

    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        known = SESSION_OPTIONS | AUTOMATIC_OPTIONS | {"direction", "start_frame", "max_frames", "output_size"}
        unknown = set(kwargs) - known
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)} for video-mask-generation")
        preprocess = {k: v for k, v in kwargs.items() if k in SESSION_OPTIONS | AUTOMATIC_OPTIONS | {"start_frame"}}
        forward = {k: kwargs[k] for k in ("direction", "start_frame", "max_frames") if k in kwargs}
        postprocess = {k: kwargs[k] for k in ("output_size",) if k in kwargs}
        return preprocess, forward, postprocess

    def __call__(self, video: Any = None, prompts: list[dict] | None = None, return_all: bool = False,
                 **kwargs: Any) -> Iterator[dict] | list[dict]:
        """Open ``video`` (or continue on ``pipe.session`` when ``video`` is None), apply
        ``prompts`` and track; see the class docstring for the options."""
        preprocess_params, forward_params, postprocess_params = self._sanitize_parameters(**kwargs)
        session = self.preprocess({"video": video, "prompts": prompts or []}, **preprocess_params)
        results = (self.postprocess(result, **postprocess_params) for result in self._forward(session, **forward_params))
        return list(results) if return_all else results

    def preprocess(self, inputs: dict, start_frame: int | None = None, **options: Any) -> VideoSession:
        video, prompts = inputs["video"], inputs["prompts"]
        automatic = {k: options.pop(k) for k in list(options) if k in AUTOMATIC_OPTIONS}
        if video is None:
            if self.session is None:
                raise ValueError("no video: give one, or call the pipeline on a video first to continue its session")
            if options:
                raise ValueError(f"session options {sorted(options)} apply only when a video is opened")
            session = self.session
        else:
            if self.session is not None:
                self.session.close()
                self.session = None
            # A click on an already tracked frame must survive the next propagation: keep corrected
            # frames as conditioning frames (the official predictor's default would re-track them).
            options.setdefault("corrections_as_conditioning", True)
            session = VideoSession(self.model, video, **options)
        try:
            if prompts:
                apply_prompts(session, prompts)
            elif automatic:
                self._prompt_automatically(session, 0 if start_frame is None else start_frame, **automatic)
            elif not session.object_ids:
                raise ValueError("give prompts (points, a box or a mask for an object on a frame), or points_per_side "
                                 "to find objects automatically")
        except Exception:
            if session is not self.session:
                session.close()
            raise
        self.session = session
        return session

    def _prompt_automatically(self, session: VideoSession, frame_idx: int, max_objects: int | None = None,
                              **generator_options: Any) -> None:
        """Every object the automatic generator finds on ``frame_idx`` becomes a mask prompt."""
        generator = AutomaticMaskGenerator(self.model, **generator_options)
        session.reset()
        found = generator.generate(session.source.frame(frame_idx))[:max_objects]
        if not found:
            raise ValueError(f"the automatic stage found no object on frame {frame_idx}; lower pred_iou_thresh / "
                             "stability_score_thresh or give prompts")
        for object_id, found_mask in enumerate(found, start=1):
            session.add_mask(frame_idx, object_id, found_mask.segmentation)

    def _forward(self, session: VideoSession, direction: Direction = "both", start_frame: int | None = None,
                 max_frames: int | None = None) -> Iterator[FrameResult]:
        if direction not in ("forward", "backward", "both"):
            raise ValueError(f"direction is 'forward', 'backward' or 'both', got {direction!r}")
        if direction in ("backward", "both"):
            yield from session.propagate(start_frame, max_frames, reverse=True)
        if direction in ("forward", "both"):
            forward = session.propagate(start_frame, max_frames, reverse=False)
            if direction == "both":
                next(forward, None)  # the start frame was already yielded by the backward pass
            yield from forward

    def postprocess(self, result: FrameResult, output_size: tuple[int, int] | None = None) -> dict:
        logits = result.mask_logits
        threshold = self.session.mask_threshold if self.session is not None else self.model.config.mask_threshold
        if output_size is not None and tuple(output_size) != tuple(logits.shape[-2:]) and len(logits):
            logits = F.interpolate(logits[:, None].float(), size=tuple(output_size), mode="bilinear", align_corners=False)[:, 0]
            masks = logits > threshold
        else:
            masks = result.masks
        return {
            "frame_idx": result.frame_idx,
            "object_ids": list(result.object_ids),
            "masks": masks.cpu().numpy(),
            "scores": torch.sigmoid(result.object_scores.float()).cpu().numpy(),
        }
