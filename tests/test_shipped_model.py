"""The model shipped inside the package: it loads offline, is the default everywhere, and its
model card's click J&F is reproduced by `sam2-hf evaluate` on freshly generated videos."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sam2_hf
from sam2_hf.data import write_sav_dataset

MODEL = Path(sam2_hf.DEFAULT_MODEL)
# The shipped model (run 15) measured IoU 0.79 on frame 0 of the README example and 0.70-0.94 on
# every frame (lowest on frames 0-3, while the object overlaps its look-alike), mean 0.889
# (untrained weights: 0.071 mean): it keeps the clicked object, not its look-alike, and covers most
# of it. The models before scored mean 0.875 (0.68-0.93 per frame), 0.864 (0.64-0.92), 0.843 (0.49-0.94),
# 0.810 (0.58-0.91), 0.545 (half the object once it had turned) and 0.094 (it switched to the
# look-alike); run 9, never shipped, 0.079. The goal is 0.8 on every frame.
pytestmark = pytest.mark.skipif(not (MODEL / "config.json").is_file(), reason="no model shipped yet")


def test_default_model_is_small_and_documented():
    weights = MODEL / "model.safetensors"
    assert weights.stat().st_size < 20 * 2**20
    card = (MODEL / "README.md").read_text()
    assert "J&F" in card and "synthetic" in card


def test_pipeline_without_a_model_uses_it():
    code = ("import numpy as np, sam2_hf\nfrom transformers import pipeline\n"
            "pipe = pipeline('video-mask-generation', device='cpu')\n"
            "print(pipe.model.name_or_path)\n")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert Path(output.strip().splitlines()[-1]).resolve() == MODEL.resolve()


def test_card_metrics_are_reproduced_on_fresh_videos(tmp_path):
    card = (MODEL / "README.md").read_text()
    claimed, untrained = (float(v) for v in re.search(r"J&F with 1 click \| ([0-9.]+) \| ([0-9.]+) \|", card).groups())
    # Same generator and sizes as the validation set of the card, other seeds, shorter videos.
    write_sav_dataset(tmp_path / "val", 6, layout="val", seed=77, num_frames=48, num_objects=3, num_distractors=2,
                      height=144, width=192)
    result = subprocess.run(["sam2-hf", "evaluate", str(tmp_path / "val"), "--clicks", "1", "--json", str(tmp_path / "s.json")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    score = json.loads((tmp_path / "s.json").read_text())["1_click"]
    # Measured (run 12): 0.502 here against the card's 0.458; run 11: 0.334 against 0.441; run 8: 0.438 against the card's 0.407 (fourth run: 0.386 against 0.274; third: 0.185 against 0.273) on its 8
    # longer videos (untrained 0.031; 0.033 on these); one-click J&F of a model this weak varies by 0.1 or more between
    # sets of a few videos.
    assert abs(score - claimed) < 0.12 and score > untrained + 0.1


def test_readme_command_tracks_the_example_clip(tmp_path):
    """`sam2-hf track examples/shapes.mp4 --point 60,42` with no --model follows the clicked object
    (not its look-alike) through the clip: compared with the generator's own masks."""
    import numpy as np
    from PIL import Image

    from sam2_hf.data.example_clip import CLICK, NUM_FRAMES, clicked_object_ious, example_shortfalls

    example = Path(__file__).resolve().parents[1] / "examples" / "shapes.mp4"
    result = subprocess.run(["sam2-hf", "track", str(example), "--point", f"{CLICK[0]},{CLICK[1]}", "--output", str(tmp_path / "out")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "RANDOM" not in result.stderr, result.stderr[-2000:]
    ious = clicked_object_ious(np.asarray(Image.open(tmp_path / "out" / "masks" / f"{t:05d}.png")) == 1
                               for t in range(NUM_FRAMES))
    assert not example_shortfalls(ious), example_shortfalls(ious)
