"""Many videos on many processes: the batch annotator behind ``sam2-hf annotate``, as SAM 2's data
engine ran the model over SA-V's videos.

Videos are split between Accelerate's processes (one process, all cores, or a cluster with
``accelerate launch``), longest first so that the processes finish together. Each process runs
its own tracking sessions and writes what ``sam2-hf track`` writes, one folder per video, which
appears only once complete. ``OUTPUT/manifest.jsonl`` records every finished video (done or
failed, with its error); running the same command again skips the done ones. The main process
shows one progress bar over all videos and writes ``OUTPUT/summary.json``.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .data.sav import detect_layout, iter_videos
from .loading import load_model
from .modeling import Sam2VideoModel
from .outputs import replace_folder, restore_interrupted_replace, staging_folder, write_video_outputs
from .pipelines import VideoMaskGenerationPipeline
from .processing.video_reader import FRAME_SUFFIXES, open_video

logger = logging.getLogger(__name__)
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
MANIFEST = "manifest.jsonl"
SUMMARY = "summary.json"


@dataclass
class VideoJob:
    video_id: str
    path: str
    num_frames: int


def find_videos(root) -> list[VideoJob]:
    """The videos of ``root``, longest first: a dataset in SA-V or DAVIS layout, or a folder of
    video files and frame folders, or (from Python) a ``datasets`` data set with ``video_id`` and
    ``video_path`` columns, such as :func:`~sam2_hf.data.load_sav` gives. A video that cannot be
    opened counts 0 frames (it fails later, recorded in the manifest, without stopping the others)."""
    if hasattr(root, "column_names"):  # a datasets.Dataset
        if not {"video_id", "video_path"} <= set(root.column_names):
            raise ValueError(f"a data set to annotate needs video_id and video_path columns, not {root.column_names}")
        paths = {row["video_id"]: Path(row["video_path"]) for row in root.select_columns(["video_id", "video_path"])}
        return _longest_first(paths)
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"input folder not found: {root}")
    try:
        detect_layout(root)
        paths = {row["video_id"]: Path(row["video_path"]) for row in iter_videos(root)}
    except ValueError:  # not a dataset: a plain folder of videos
        paths = {p.stem if p.is_file() else p.name: p for p in sorted(root.iterdir())
                 if (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
                 or (p.is_dir() and any(f.suffix.lower() in FRAME_SUFFIXES for f in p.iterdir()))}
    if not paths:
        raise ValueError(f"{root} holds no video (video files, frame folders, or an SA-V / DAVIS dataset)")
    return _longest_first(paths)


def _longest_first(paths: dict[str, Path]) -> list[VideoJob]:
    jobs = [VideoJob(video_id, str(path), _count_frames(path)) for video_id, path in paths.items()]
    return sorted(jobs, key=lambda job: (-job.num_frames, job.video_id))


def _count_frames(path: Path) -> int:
    try:
        source = open_video(path)
    except ValueError:
        return 0
    try:
        return source.num_frames
    finally:
        source.close()


def read_prompts(path: str | Path) -> dict[str, list[dict]]:
    """Prompts per video from a JSON file ``{video_id: [{"frame", "object_id", "points" + "labels"
    | "box" | "mask"}, ...]}``; a mask is an image file (relative to the JSON file) whose non-zero
    pixels are the object."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read prompts from {path}: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError(f"{path} must map each video id to a list of prompts")
    prompts = {}
    for video_id, entries in data.items():
        prompts[video_id] = []
        for entry in entries:
            entry = dict(entry)
            if isinstance(entry.get("mask"), str):
                entry["mask"] = read_mask_file(path.parent / entry["mask"])
            prompts[video_id].append(entry)
    return prompts


def read_mask_file(path: str | Path) -> np.ndarray:
    """A mask prompt from an image file: non-zero pixels are the object."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"mask file not found: {file}")
    try:
        return np.asarray(Image.open(file).convert("L")) > 0
    except OSError as error:
        raise ValueError(f"cannot read {file} as an image: {error}") from None


def write_tracked_video(pipe: VideoMaskGenerationPipeline, video: Any, output: Path, prompts: list[dict] | None,
                        masklet_type: str, png_layout: str = "davis", overlay: bool = True, overwrite: bool = False,
                        **options: Any) -> tuple[int, int]:
    """Track ``video`` with ``pipe`` and write ``output/`` (masks/, masklets.json and, with
    ``overlay``, overlay.mp4) while streaming. Everything goes to a hidden folder first, swapped in
    only once complete (:func:`~sam2_hf.outputs.replace_folder`), so an interrupted run leaves an
    earlier output intact; an existing ``output`` is replaced only with ``overwrite``. Returns the
    frames and objects written."""
    restore_interrupted_replace(output)
    if output.exists() and not overwrite:
        raise ValueError(f"{output} already exists: remove it, choose another --output, or pass --overwrite")
    results = pipe(video, prompts=prompts, **options)
    partial = staging_folder(output)
    try:
        with pipe.session as session:
            prompted = [(frame, obj) for obj, frames in session.prompted_frames().items() for frame in frames]
            num_frames = write_video_outputs(results, partial, session.source, Path(str(video)).stem, masklet_type,
                                             prompted, png_layout=png_layout, overlay=overlay)
            num_objects = len(session.object_ids)
        replace_folder(partial, output)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return num_frames, num_objects


def read_manifest(output: Path) -> dict[str, dict]:
    """The latest record of each video in ``output/manifest.jsonl``."""
    records = {}
    path = output / MANIFEST
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                records[record["video"]] = record
    return records


def annotate(input, output: str | Path, prompts_file: str | Path | None = None, model: str | None = None,
             points_per_side: int = 16, overlay: bool = False, png_layout: str = "davis", dtype=None,
             max_frames: int | None = None) -> dict:
    """Annotate every video of ``input`` (see :func:`find_videos`) into ``output`` on this process's share of the videos
    (all of them without ``accelerate launch``); returns the run summary (main process; other
    processes return their own records)."""
    from accelerate import Accelerator
    from accelerate.utils import gather_object

    import torch

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    output = Path(output)
    jobs = find_videos(input)
    prompts = read_prompts(prompts_file) if prompts_file else None
    finished = {video for video, record in read_manifest(output).items() if record["status"] == "done"}
    pending = [job for job in jobs if job.video_id not in finished]
    mine = pending[accelerator.process_index :: accelerator.num_processes]
    if accelerator.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()

    pipe = VideoMaskGenerationPipeline(model=load_model(model, Sam2VideoModel), device=accelerator.device)
    progress = _ManifestProgress(output / MANIFEST, len(pending)) if accelerator.is_main_process else None
    started = time.time()
    records = []
    for job in mine:
        records.append(_annotate_one(pipe, job, output, prompts, points_per_side, overlay, png_layout, dtype, max_frames,
                                     accelerator.process_index))
        with open(output / MANIFEST, "a") as manifest:  # one short line per write: appends do not interleave
            manifest.write(json.dumps(records[-1]) + "\n")
    accelerator.wait_for_everyone()
    all_records = gather_object([records]) if accelerator.num_processes > 1 else [records]
    if progress is not None:
        progress.close()
    if not accelerator.is_main_process:
        return {"records": records}
    summary = _summary([r for process in all_records for r in process], len(finished), time.time() - started,
                       accelerator.num_processes)
    (output / SUMMARY).write_text(json.dumps(summary, indent=2))
    return summary


def _annotate_one(pipe, job: VideoJob, output: Path, prompts, points_per_side, overlay, png_layout, dtype, max_frames,
                  process: int) -> dict:
    started = time.time()
    record = {"video": job.video_id, "status": "done", "frames": 0, "objects": 0, "process": process, "error": None}
    try:
        if prompts is not None and job.video_id not in prompts:
            raise ValueError("the prompts file has no prompts for this video")
        options: dict[str, Any] = {"dtype": dtype, "max_frames": max_frames}
        if prompts is None:
            options["points_per_side"] = points_per_side
        record["frames"], record["objects"] = write_tracked_video(
            pipe, job.path, output / job.video_id, prompts[job.video_id] if prompts is not None else None,
            "predicted" if prompts is not None else "auto", png_layout, overlay, overwrite=True, **options)
    except Exception as error:  # noqa: BLE001 - one bad video must not stop the others; its error is recorded
        logger.warning("%s failed: %s", job.video_id, error)
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
    record["seconds"] = round(time.time() - started, 3)
    return record


def _summary(records: list[dict], skipped: int, seconds: float, num_processes: int) -> dict:
    done = [r for r in records if r["status"] == "done"]
    frames = sum(r["frames"] for r in done)
    per_process = {}
    for process in range(num_processes):
        own = [r for r in done if r["process"] == process]
        own_frames, busy = sum(r["frames"] for r in own), sum(r["seconds"] for r in own)
        per_process[str(process)] = {"videos": len(own), "frames": own_frames,
                                     "frames_per_second": round(own_frames / busy, 2) if busy else 0.0}
    return {"done": len(done), "failed": len(records) - len(done), "skipped": skipped, "frames": frames,
            "seconds": round(seconds, 2), "frames_per_second": round(frames / seconds, 2) if seconds else 0.0,
            "processes": num_processes, "per_process": per_process,
            "failures": {r["video"]: r["error"] for r in records if r["status"] != "done"}}


class _ManifestProgress:
    """One progress bar over the videos of every process: it counts the manifest's new lines."""

    def __init__(self, manifest: Path, total: int) -> None:
        self.manifest = manifest
        self.start_lines = _count_lines(manifest)
        self.bar = tqdm(total=total, desc="annotating", unit="video")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.wait(0.5):
            self._update()

    def _update(self) -> None:
        self.bar.n = min(self.bar.total, _count_lines(self.manifest) - self.start_lines)
        self.bar.refresh()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self._update()
        self.bar.close()


def _count_lines(path: Path) -> int:
    return sum(1 for _ in path.open()) if path.is_file() else 0
