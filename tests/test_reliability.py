"""Hostile inputs and interrupted work: each threat of RELIABILITY.md with the test that shows what
happens (a clear error naming the file or field, nothing allocated or lost)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from sam2_hf import Sam2VideoModel, VideoSession
from sam2_hf.data import render_video
from sam2_hf.processing.video_reader import open_video



@pytest.fixture(scope="module")
def good_video(tmp_path_factory) -> Path:
    frames, _ = render_video(1, num_frames=40, height=96, width=128)
    path = tmp_path_factory.mktemp("videos") / "good.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        stream.options = {"g": "8"}  # a key frame every 8 frames
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def _hostile(tmp_path: Path, good: Path, kind: str) -> Path:
    data = good.read_bytes()
    path = tmp_path / f"{kind}.mp4"
    if kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n")
    elif kind == "truncated":  # an mp4 keeps its index at the end: cut, nothing can be found
        path.write_bytes(data[: len(data) * 6 // 10])
    return path


@pytest.mark.parametrize("kind", ["zero_bytes", "text", "truncated"])
def test_unreadable_videos_are_refused_naming_the_file(tmp_path, good_video, kind):
    path = _hostile(tmp_path, good_video, kind)
    with pytest.raises(ValueError, match=f"cannot read video .*{kind}.mp4"):
        open_video(path)


def test_a_video_corrupted_mid_stream_yields_the_frames_before_then_the_error(tmp_path, good_video, model_dir):
    data = bytearray(good_video.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = bytes(2000)
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    model = Sam2VideoModel.from_pretrained(model_dir)
    session = VideoSession(model, path)
    session.add_points(0, 1, [[60, 40]], [1])
    seen = []
    with pytest.raises(ValueError, match="corrupt.mp4"):
        for result in session.propagate():
            seen.append(result.frame_idx)
    assert seen == list(range(len(seen))) and 0 < len(seen) < 40


def test_the_cli_reports_a_bad_video_in_one_line_and_writes_nothing(tmp_path, good_video, model_dir):
    path = _hostile(tmp_path, good_video, "text")
    out = tmp_path / "out"
    result = subprocess.run(["sam2-hf", "track", str(path), "--point", "5,5", "--model", str(model_dir), "--output", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("sam2-hf track: error: cannot read video") and "text.mp4" in errors[0]
    assert "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's first bytes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))


def test_a_frame_claiming_50000_by_50000_pixels_is_refused_before_decoding(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(folder / "00000.png")
    _png_header_only(folder / "00001.png", 50_000, 50_000)
    source = open_video(folder)
    with pytest.raises(ValueError, match=r"00001.png claims 50000x50000 pixels|00001.png"):
        source.frame(1)


def test_a_frame_folder_of_mixed_sizes_names_the_frame(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(folder / "00000.jpg")
    Image.fromarray(np.zeros((40, 48, 3), np.uint8)).save(folder / "00001.jpg")
    source = open_video(folder)
    with pytest.raises(ValueError, match="frame 1 is 48x40 but the video is 48x32"):
        source.frame(1)


class _Payload:
    """What a malicious checkpoint would unpickle (never, with weights_only=True)."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_pt_file_carrying_a_pickled_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with path.open("wb") as handle:
        torch.save({"model": {"x": torch.zeros(1)}, "extra": _Payload()}, handle, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(ValueError, match="evil.pt is not a checkpoint of tensors only"):
        Sam2VideoModel.from_pretrained(str(path))


@pytest.mark.parametrize("field, value, message", [
    ("image_size", 10**6, r"Sam2Config.image_size = 1000000"),
    ("vision_config.stages", [1, 2, 10_000, 1], r"Sam2VisionConfig.stages"),
    ("memory_config.num_layers", 10_000, r"Sam2MemoryConfig.num_layers = 10000"),
])
def test_absurd_sizes_in_config_json_are_refused_before_allocating(tmp_path, model_dir, field, value, message):
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((model_dir / name).read_bytes())
    config = json.loads((folder / "config.json").read_text())
    *parents, last = field.split(".")
    target = config
    for parent in parents:
        target = target[parent]
    target[last] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        Sam2VideoModel.from_pretrained(folder)


def test_tensors_of_a_wrong_dtype_are_named(model_dir):
    """A converted checkpoint (official .pt, transformers' format) with integers where floats belong."""
    state = load_file(model_dir / "model.safetensors")
    state["no_object_pointer"] = state["no_object_pointer"].to(torch.int32)
    config = Sam2VideoModel.from_pretrained(model_dir).config
    with pytest.raises(ValueError, match=r"no_object_pointer \(checkpoint torch.int32, model torch.float32\)"):
        Sam2VideoModel._from_converted_state_dict(state, config)


def test_an_existing_output_is_kept_without_overwrite(tmp_path, good_video, model_dir):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    command = ["sam2-hf", "track", str(good_video), "--point", "60,40", "--model", str(model_dir), "--output", str(out)]
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    assert (out / "mine.txt").read_text() == "keep me"
    replaced = subprocess.run([*command, "--overwrite"], capture_output=True, text=True)
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    assert not (out / "mine.txt").exists() and len(list((out / "masks").glob("*.png"))) == 40


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGKILL])
def test_a_killed_track_leaves_the_earlier_output_intact(tmp_path, model_dir, signal_number):
    frames, _ = render_video(2, num_frames=400, height=96, width=128)
    video = tmp_path / "long.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.txt").write_text("an earlier run")
    process = subprocess.Popen([sys.executable, "-m", "sam2_hf.cli", "track", str(video), "--point", "60,40", "--model",
                                str(model_dir), "--output", str(out), "--overwrite"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               # A shell that starts the tests in the background (`nohup ... &`)
                               # has them ignore SIGINT, and the run would inherit that.
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    partial = tmp_path / ".out.partial"
    deadline = time.time() + 120
    while time.time() < deadline and not list(partial.glob("masks/*.png")):
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal_number)
    process.communicate(timeout=60)
    assert process.returncode != 0, "the run finished before the signal landed"
    assert (out / "earlier.txt").read_text() == "an earlier run" and not (out / "masks").exists()
    if signal_number == signal.SIGINT:  # the run cleans up after itself; after SIGKILL the next run does
        assert not partial.exists()
