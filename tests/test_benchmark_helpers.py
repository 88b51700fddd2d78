"""The benchmark's inputs and its agreement measure (the benchmark itself is not a test)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from sam2_hf.benchmark import HEIGHT, WIDTH, machine, make_video, mask_agreement
from sam2_hf.modeling import cpu_features


def test_generated_video_is_480p_and_moves(tmp_path):
    folder = make_video(tmp_path / "video", 3)
    files = sorted(folder.glob("*.jpg"))
    assert [f.name for f in files] == ["00000.jpg", "00001.jpg", "00002.jpg"]
    first, last = (np.asarray(Image.open(f)).astype(int) for f in (files[0], files[2]))
    assert first.shape == (HEIGHT, WIDTH, 3)
    assert np.abs(first - last).mean() > 1  # the shapes moved


def test_agreement_is_max_logit_difference_and_min_iou():
    expected = {0: torch.full((2, 4, 4), -1.0), 1: torch.full((2, 4, 4), -1.0)}
    expected[0][0, :2] = 1.0  # 8 pixels on
    got = {t: v.clone() for t, v in expected.items()}
    got[0][0, 0, :2] = -0.5  # 2 of them off: IoU 6/8
    got[1][1] += 0.25
    diff, iou = mask_agreement((expected[t], got[t]) for t in expected)
    assert diff == 1.5 and iou == 0.75


def test_report_names_torch_and_how_the_cpu_computes_bfloat16(monkeypatch):
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: frozenset({"avx2"}))
    assert machine().startswith(f"torch {torch.__version__}, CPU ") and "(bfloat16 emulated)" in machine()
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
    assert "(bfloat16 native)" in machine()
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: None)
    assert "(bfloat16 unknown)" in machine()
