from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from sam2_hf import Sam2Model, Sam2VideoModel, VideoSession
from sam2_hf.cli import main
from sam2_hf.outputs import decode_rle

from .conftest import tiny_config


@pytest.fixture
def tiny_model_dir(tmp_path):
    folder = tmp_path / "tiny"
    Sam2VideoModel(tiny_config()).save_pretrained(folder)
    return folder


@pytest.fixture
def image_file(tmp_path, image):
    path = tmp_path / "image.png"
    Image.fromarray(image).save(path)
    return path


def test_console_script_is_installed():
    assert shutil.which("sam2-hf"), "pip install -e . should put sam2-hf on PATH"
    result = subprocess.run(["sam2-hf", "segment", "--help"], capture_output=True, text=True, check=True)
    assert "--point" in result.stdout and "--box" in result.stdout


def test_segment_writes_overlay_and_mask(tmp_path, tiny_model_dir, image_file, image, capsys):
    overlay, mask = tmp_path / "overlay.png", tmp_path / "mask.png"
    code = main(["segment", str(image_file), "--point", "80,50", "--point", "10,10,0", "--model", str(tiny_model_dir),
                 "--output", str(overlay), "--mask-output", str(mask)])
    assert code == 0
    written = np.asarray(Image.open(overlay))
    assert written.shape == image.shape
    binary = np.asarray(Image.open(mask))
    assert binary.shape == image.shape[:2] and set(np.unique(binary)) <= {0, 255}
    # Where the mask is on, the overlay was tinted; elsewhere the image is untouched.
    on = binary > 0
    assert (written[~on] == image[~on]).all()
    assert on.sum() == 0 or (written[on] != image[on]).any()
    assert "predicted IoU" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--point", "500,10"], "outside image 0"),
        ([], "at least one --point"),
        (["--box", "10,10,5,40"], "x0 <= x1"),
    ],
)
def test_segment_errors_are_one_line(tiny_model_dir, image_file, capsys, argv, message):
    code = main(["segment", str(image_file), "--model", str(tiny_model_dir), *argv])
    err = capsys.readouterr().err.strip()
    # Loading may draw a progress bar first; the error itself is a single line, no traceback.
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("sam2-hf segment: error:") and message in err.splitlines()[-1]


def test_segment_missing_image(tmp_path, capsys):
    assert main(["segment", str(tmp_path / "nope.png"), "--point", "1,1"]) == 2
    assert "image not found" in capsys.readouterr().err


def test_convert_official_checkpoint(tmp_path):
    sam2 = pytest.importorskip("sam2.build_sam")
    predictor = sam2.build_sam2_video_predictor("configs/sam2.1/sam2.1_hiera_t.yaml", ckpt_path=None, device="cpu")
    checkpoint = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": predictor.state_dict()}, checkpoint)
    out = tmp_path / "converted"
    assert main(["convert", str(checkpoint), str(out)]) == 0
    assert {"config.json", "model.safetensors", "README.md", "preprocessor_config.json"} <= {p.name for p in out.iterdir()}
    video = Sam2VideoModel.from_pretrained(out)
    reference = predictor.state_dict()
    assert torch.equal(video.state_dict()["memory_encoder.out_proj.weight"], reference["memory_encoder.out_proj.weight"])
    assert isinstance(Sam2Model.from_pretrained(out), Sam2Model)


@pytest.fixture
def clip(tmp_path):
    av = pytest.importorskip("av")
    from .inference.test_session import make_frames

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for frame in make_frames(8):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_track_writes_masks_and_overlay(tmp_path, tiny_model_dir, clip):
    av = pytest.importorskip("av")
    out = tmp_path / "out"
    result = subprocess.run(
        ["sam2-hf", "track", str(clip), "--model", str(tiny_model_dir), "--frame", "3", "--point", "15,20",
         "--obj-id", "2", "--box", "30,5,60,40", "--output", str(out)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    pngs = sorted((out / "masks").iterdir())
    assert [p.name for p in pngs] == [f"{t:05d}.png" for t in range(8)]
    with Image.open(pngs[3]) as first:
        assert first.mode == "P" and set(np.unique(np.asarray(first))) <= {0, 1, 2}
        colors = np.asarray(first.getpalette()[:9]).reshape(3, 3)
        assert (colors[0] == 0).all() and len({tuple(c) for c in colors}) == 3  # background black, objects distinct
    # The PNGs hold what the session gives when driven by hand.
    session = VideoSession(Sam2VideoModel.from_pretrained(tiny_model_dir), clip)
    session.add_points(3, 1, [[15, 20]], [1])
    session.add_box(3, 2, [30, 5, 60, 40])
    by_hand = {r.frame_idx: r for r in session.propagate(start_frame_idx=3)}
    labels = np.asarray(Image.open(pngs[5]))
    assert np.array_equal(labels == 2, by_hand[5].masks[1].numpy())
    with av.open(str(out / "overlay.mp4")) as video:
        assert sum(1 for _ in video.decode(video=0)) == 8
    # masklets.json: SA-V layout, every frame, RLEs decoding to exactly the PNGs' masks.
    masklets = json.loads((out / "masklets.json").read_text())
    assert masklets["masklet_id"] == [1, 2] and masklets["masklet_frame_indices"] == list(range(8))
    assert masklets["masklet_edited_frame_count"] == [1, 1] and masklets["video_height"] == 48
    for t, row in enumerate(masklets["masklet"]):
        labels = np.asarray(Image.open(pngs[t]))
        for obj, rle in zip([1, 2], row):
            assert rle["size"] == [48, 64]
            decoded = decode_rle(rle)
            # The PNG gives an overlapped pixel to the later object; the RLE keeps every object whole.
            assert decoded[labels == obj].all() and not decoded[labels == 0].any()


def test_auto_tracks_every_object_found(tmp_path, tiny_model_dir, clip):
    out = tmp_path / "auto"
    result = subprocess.run(
        ["sam2-hf", "auto", str(clip), "--model", str(tiny_model_dir), "--points-per-side", "3", "--pred-iou-thresh", "0",
         "--stability-score-thresh", "0", "--max-objects", "2", "--png-layout", "sav", "--output", str(out)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    masklets = json.loads((out / "masklets.json").read_text())
    assert 1 <= masklets["masklet_num"] <= 2 and masklets["masklet_type"][0] == "auto"
    # SA-V layout: masks/<object>/<frame>.png, binary, equal to the RLEs.
    object_dirs = sorted((out / "masks").iterdir())
    assert [p.name for p in object_dirs] == [f"{obj:03d}" for obj in masklets["masklet_id"]]
    for column, object_dir in enumerate(object_dirs):
        assert len(list(object_dir.iterdir())) == 8
        png = np.asarray(Image.open(object_dir / "00005.png")) > 0
        assert np.array_equal(png, decode_rle(masklets["masklet"][5][column]))


def test_benchmark_command_documents_its_run():
    """The benchmark itself takes minutes to hours (scripts/benchmark.py, not a test); the
    command is wired to it."""
    result = subprocess.run(["sam2-hf", "benchmark", "--help"], capture_output=True, text=True, check=True)
    for option in ("--quick", "--json", "--threads", "--impl", "--modes"):
        assert option in result.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["missing.mp4", "--point", "1,1"], "video not found"),
        (["CLIP", "--point", "500,10"], "outside the 64x48"),
        (["CLIP"], "at least one --point"),
        (["CLIP", "--frame", "99", "--point", "1,1"], "frame 99 does not exist"),
        (["EMPTY_DIR", "--point", "1,1"], "holds no JPEG or PNG frame"),
        (["CLIP", "--mask", "MASK_A", "--mask", "MASK_B"], "object 1 is prompted twice on frame 0 with conflicting masks"),
        (["CLIP", "--mask", "MASK_SMALL"], "a mask must have the video's shape (48, 64)"),
        (["CLIP", "--mask", "missing.png"], "mask file not found"),
    ],
)
def test_track_errors_leave_nothing_behind(tmp_path, tiny_model_dir, clip, argv, message):
    out = tmp_path / "out"
    (tmp_path / "empty").mkdir()
    masks = {"MASK_A": (48, 64, 0), "MASK_B": (48, 64, 20), "MASK_SMALL": (10, 10, 0)}
    for name, (height, width, left) in masks.items():
        mask = np.zeros((height, width), np.uint8)
        mask[5:9, left + 2 : left + 6] = 255
        Image.fromarray(mask).save(tmp_path / f"{name}.png")
    paths = {"CLIP": str(clip), "EMPTY_DIR": str(tmp_path / "empty"), **{k: str(tmp_path / f"{k}.png") for k in masks}}
    argv = [paths.get(a, a) for a in argv]
    result = subprocess.run(["sam2-hf", "track", *argv, "--model", str(tiny_model_dir), "--output", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    assert not out.exists() and not any(p.name.endswith(".partial") for p in tmp_path.iterdir())
