"""J&F of whole videos and data sets, with the frame and object conventions of each evaluator.

DAVIS (davis2017-evaluation, semi-supervised): objects are 1..max label of the first ground-truth
frame; the first and last frames are not scored; an object's score is its mean over the frames.

SA-V (``sav_evaluator.py``): first and last annotated frames dropped; an object is scored from
the first frame where it appears in the ground truth or the prediction (empty/empty frames before
that are not counted, later ones count as 1); only objects present in the ground truth are
reported.

Totals are means over all objects of all videos (DAVIS' J-Mean / F-Mean); ``J&F = (J + F) / 2``.
Scores are fractions in [0, 1].
"""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .metrics import boundary_f_measure, boundary_radius, disk, frame_scores, region_similarity
from .readers import Layout, detect_layout, frame_names, read_binary_frames, read_label_frames

logger = logging.getLogger(__name__)


@dataclass
class ObjectScore:
    J: float
    F: float


@dataclass
class VideoScore:
    objects: dict[str, ObjectScore]
    missing_prediction: bool = False

    @property
    def J(self) -> float:
        return float(np.mean([o.J for o in self.objects.values()])) if self.objects else float("nan")

    @property
    def F(self) -> float:
        return float(np.mean([o.F for o in self.objects.values()])) if self.objects else float("nan")

    @property
    def JF(self) -> float:
        return (self.J + self.F) / 2


@dataclass
class EvaluationResult:
    videos: dict[str, VideoScore] = field(default_factory=dict)

    def _all_objects(self) -> list[ObjectScore]:
        return [o for video in self.videos.values() for o in video.objects.values()]

    @property
    def J(self) -> float:
        return float(np.mean([o.J for o in self._all_objects()]))

    @property
    def F(self) -> float:
        return float(np.mean([o.F for o in self._all_objects()]))

    @property
    def JF(self) -> float:
        return (self.J + self.F) / 2

    def to_dict(self) -> dict:
        return {
            "J": self.J, "F": self.F, "J&F": self.JF,
            "videos": {
                name: {
                    "J": video.J, "F": video.F, "J&F": video.JF,
                    "objects": {obj: {"J": s.J, "F": s.F} for obj, s in video.objects.items()},
                }
                for name, video in self.videos.items()
            },
        }

    def table(self) -> str:
        """A plain-text table: one row per video, then the totals (percentages)."""
        width = max([len("TOTAL")] + [len(name) for name in self.videos])
        lines = [f"{'video':<{width}}  objects    J&F      J      F"]
        for name, video in self.videos.items():
            note = "  (no prediction: counted as 0)" if video.missing_prediction else ""
            lines.append(f"{name:<{width}}  {len(video.objects):>7}  {100 * video.JF:5.1f}  {100 * video.J:5.1f}  {100 * video.F:5.1f}{note}")
        total = len(self._all_objects())
        lines.append(f"{'TOTAL':<{width}}  {total:>7}  {100 * self.JF:5.1f}  {100 * self.J:5.1f}  {100 * self.F:5.1f}")
        return "\n".join(lines)


def score_davis_video(gt_labels: np.ndarray, pred_labels: np.ndarray) -> dict[str, ObjectScore]:
    """Score ``(T, H, W)`` object-id maps (all frames, the first and last included in the input)."""
    if gt_labels.shape != pred_labels.shape:
        raise ValueError(f"ground truth {gt_labels.shape} and prediction {pred_labels.shape} differ in frames or size")
    if len(gt_labels) < 3:
        raise ValueError(f"a DAVIS video needs at least 3 frames (the first and last are not scored), got {len(gt_labels)}")
    num_objects = int(gt_labels[0].max())
    gt, pred = gt_labels[1:-1], pred_labels[1:-1]
    if pred.size and int(pred.max()) > num_objects:
        raise ValueError(f"the prediction has object id {int(pred.max())} but the ground truth only {num_objects} objects")
    kernel = disk(boundary_radius(*gt_labels.shape[-2:]))
    per_frame = np.zeros((num_objects, len(gt), 2))
    for t, (gt_frame, pred_frame) in enumerate(zip(gt, pred)):  # frame by frame: stays in cache
        for obj in range(1, num_objects + 1):
            per_frame[obj - 1, t] = frame_scores(gt_frame == obj, pred_frame == obj, kernel)
    means = per_frame.mean(axis=1)
    return {str(obj): ObjectScore(J=float(j), F=float(f)) for obj, (j, f) in enumerate(means, start=1)}


def score_sav_object(gt: np.ndarray, pred: np.ndarray) -> ObjectScore | None:
    """Score one SA-V object's ``(T, H, W)`` masks; ``None`` when it never appears in the ground
    truth of the scored frames (the reference reports no score for it)."""
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in frames or size")
    gt, pred = gt[1:-1], pred[1:-1]
    if not gt.any():
        return None
    present = gt.any(axis=(1, 2)) | pred.any(axis=(1, 2))
    first = int(np.argmax(present))
    gt, pred = gt[first:], pred[first:]
    return ObjectScore(J=float(np.mean(region_similarity(gt, pred))), F=float(np.mean(boundary_f_measure(gt, pred))))


def evaluate_video(gt_dir: Path, pred_dir: Path | None) -> VideoScore:
    """Score one video folder, in the convention of its layout. ``pred_dir=None`` (no prediction
    for the video) scores every ground-truth object 0."""
    gt_dir = Path(gt_dir)
    layout = detect_layout(gt_dir)
    if layout is Layout.DAVIS:
        names = frame_names(gt_dir)
        gt = read_label_frames(gt_dir, names)
        pred = read_label_frames(pred_dir, names) if pred_dir is not None else np.zeros_like(gt)
        return VideoScore(score_davis_video(gt, pred), missing_prediction=pred_dir is None)

    scores = {}
    for object_dir in sorted(p for p in gt_dir.iterdir() if p.is_dir()):
        names = frame_names(object_dir)
        gt = read_binary_frames(object_dir, names)
        if pred_dir is None:
            pred = np.zeros_like(gt)
        else:
            pred_object_dir = Path(pred_dir) / object_dir.name
            if not pred_object_dir.is_dir():
                raise ValueError(f"prediction {pred_dir} has no folder for object {object_dir.name}")
            pred = read_binary_frames(pred_object_dir, names)
        score = score_sav_object(gt, pred)
        if score is None:
            logger.warning("%s: object %s never appears in the scored ground-truth frames; not reported", gt_dir.name, object_dir.name)
        else:
            scores[object_dir.name] = score
    return VideoScore(scores, missing_prediction=pred_dir is None)


def _evaluate_one(args: tuple[Path, Path | None]) -> VideoScore:
    return evaluate_video(*args)


def evaluate_folders(gt_root: str | Path, pred_root: str | Path, num_workers: int | None = None) -> EvaluationResult:
    """Score every video folder of ``gt_root`` against the same-named folder of ``pred_root``.

    A video without a prediction folder is scored 0 with a warning. ``num_workers`` > 1 scores
    videos in parallel processes.
    """
    gt_root, pred_root = Path(gt_root), Path(pred_root)
    for root in (gt_root, pred_root):
        if not root.is_dir():
            raise ValueError(f"{root} is not a folder")
    videos = sorted(p.name for p in gt_root.iterdir() if p.is_dir())
    if not videos:
        raise ValueError(f"{gt_root} holds no video folder")
    jobs = []
    for name in videos:
        pred_dir = pred_root / name
        if not pred_dir.is_dir():
            logger.warning("no prediction for video %s: its objects count as 0", name)
            pred_dir = None
        jobs.append((gt_root / name, pred_dir))
    if num_workers and num_workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=num_workers) as pool:
            scores = list(pool.map(_evaluate_one, jobs))
    else:
        scores = [_evaluate_one(job) for job in jobs]
    return EvaluationResult(dict(zip(videos, scores)))
