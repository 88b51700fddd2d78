"""`sam2-hf annotate`: many videos on one or two processes (Accelerate), resumable, a bad video
recorded and skipped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from sam2_hf.annotate import find_videos, read_manifest
from sam2_hf.data import render_video


NUM_VIDEOS = 6


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Six small clips of different lengths, a corrupt one, and a prompts file clicking one object in each."""
    folder = tmp_path_factory.mktemp("videos")
    prompts = {}
    for k in range(NUM_VIDEOS):
        frames, masks = render_video(100 + k, num_frames=6 + 2 * k, height=48, width=64, num_objects=1)
        with av.open(str(folder / f"clip{k}.mp4"), "w") as container:
            stream = container.add_stream("libx264", rate=12)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())
        ys, xs = np.nonzero(masks[0, 0])
        point = [int(xs.mean()), int(ys.mean())] if len(xs) else [32, 24]
        prompts[f"clip{k}"] = [{"frame": 0, "object_id": 1, "points": [point], "labels": [1]}]
    (folder / "broken.mp4").write_text("not a video")
    prompts["broken"] = [{"frame": 0, "object_id": 1, "points": [[5, 5]], "labels": [1]}]
    prompts_file = folder.parent / f"{folder.name}_prompts.json"
    prompts_file.write_text(json.dumps(prompts))
    return folder, prompts_file


def _annotate(videos, model_dir, output, processes=1, **popen):
    folder, prompts = videos
    command = ["-m", "sam2_hf.cli", "annotate", str(folder), "--output", str(output), "--prompts", str(prompts),
               "--model", str(model_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same arithmetic in every process, for identical bytes
    if processes == 1:
        argv = [sys.executable, *command]
    else:
        env["ACCELERATE_USE_CPU"] = "true"
        argv = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", *command]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _files(output: Path) -> dict[str, bytes]:
    return {str(p.relative_to(output)): p.read_bytes() for p in sorted(output.rglob("*"))
            if p.is_file() and p.name not in ("manifest.jsonl", "summary.json")}


@pytest.fixture(scope="module")
def one_process(videos, model_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp("one") / "out"
    process = _annotate(videos, model_dir, output)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    return output, stdout, stderr


def test_videos_are_listed_longest_first(videos):
    jobs = find_videos(videos[0])
    assert [job.video_id for job in jobs][:NUM_VIDEOS] == [f"clip{k}" for k in reversed(range(NUM_VIDEOS))]
    assert jobs[-1].video_id == "broken" and jobs[-1].num_frames == 0


def test_a_dataset_from_load_sav_is_an_input(tmp_path):
    from sam2_hf.data import load_sav, write_sav_dataset

    write_sav_dataset(tmp_path / "sav", 3, layout="train", num_frames=8, height=48, width=64)
    jobs = find_videos(load_sav(tmp_path / "sav"))
    assert sorted(job.video_id for job in jobs) == ["sav_000000", "sav_000001", "sav_000002"]
    assert all(job.num_frames == 8 and Path(job.path).is_file() for job in jobs)


def test_one_process_annotates_every_video_and_lists_the_broken_one(one_process):
    output, stdout, stderr = one_process
    manifest = read_manifest(output)
    assert {v for v, r in manifest.items() if r["status"] == "done"} == {f"clip{k}" for k in range(NUM_VIDEOS)}
    assert manifest["broken"]["status"] == "failed" and "broken.mp4" in manifest["broken"]["error"]
    for k in range(NUM_VIDEOS):
        assert len(list((output / f"clip{k}" / "masks").glob("*.png"))) == 6 + 2 * k
        assert (output / f"clip{k}" / "masklets.json").is_file()
    assert not (output / "broken").exists()
    summary = json.loads((output / "summary.json").read_text())
    assert summary["done"] == NUM_VIDEOS and summary["failed"] == 1 and summary["skipped"] == 0
    assert summary["frames"] == sum(6 + 2 * k for k in range(NUM_VIDEOS)) and summary["frames_per_second"] > 0
    assert "6 video(s) done, 1 failed" in stdout and "broken" in stderr


def test_two_processes_write_the_same_bytes(videos, model_dir, one_process, tmp_path):
    output = tmp_path / "out"
    process = _annotate(videos, model_dir, output, processes=2)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    assert _files(output) == _files(one_process[0])
    manifest = read_manifest(output)
    assert {r["process"] for r in manifest.values()} == {0, 1}
    summary = json.loads((output / "summary.json").read_text())
    assert summary["processes"] == 2 and set(summary["per_process"]) == {"0", "1"} and summary["done"] == NUM_VIDEOS


def test_a_killed_run_resumes_without_redoing_finished_videos(videos, model_dir, one_process, tmp_path):
    output = tmp_path / "out"
    process = _annotate(videos, model_dir, output, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(read_manifest(output)) < 2:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    first = read_manifest(output)
    assert 2 <= len(first) < NUM_VIDEOS + 1, "the run ended before it could be killed"
    again = _annotate(videos, model_dir, output)
    _, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr[-3000:]
    lines = [json.loads(line) for line in (output / "manifest.jsonl").read_text().splitlines()]
    done_twice = [video for video in first if first[video]["status"] == "done"
                  and sum(r["video"] == video for r in lines) > 1]
    assert not done_twice
    assert json.loads((output / "summary.json").read_text())["skipped"] == sum(r["status"] == "done" for r in first.values())
    assert _files(output) == _files(one_process[0])
    assert not list(output.glob(".*.partial"))
