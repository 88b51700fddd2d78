"""Reduced precision on a CPU without instructions for it is emulated and slow: users are told."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from sam2_hf import Sam2VideoModel
from sam2_hf.inference import VideoSession
from sam2_hf.modeling import cpu_features
from sam2_hf.modeling.cpu_features import emulated_precision_warning

from .conftest import make_objects_visible, tiny_config

CPU = torch.device("cpu")


@pytest.mark.skipif(cpu_features.cpu_flags() is None, reason="no /proc/cpuinfo")
def test_cpu_flags_hold_the_vector_instructions_pytorch_dispatches_to():
    capability = torch.backends.cpu.get_cpu_capability()
    flags = cpu_features.cpu_flags()
    if capability.startswith("AVX"):  # AVX2, AVX512: x86
        assert "avx2" in flags
    if capability == "AVX512":
        assert "avx512f" in flags
    assert cpu_features.cpu_has_bfloat16_matrix_units() == ("amx_bf16" in flags)


def test_reduced_precision_is_flagged_only_on_a_cpu_known_to_lack_its_instructions(monkeypatch):
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: frozenset({"sse2", "avx2", "fma"}))
    message = emulated_precision_warning(torch.bfloat16, CPU)
    assert "bfloat16" in message and "avx512_bf16" in message and "float32" in message
    assert "float16" in emulated_precision_warning(torch.float16, CPU)
    assert emulated_precision_warning(torch.float32, CPU) is None
    assert emulated_precision_warning(None, CPU) is None
    assert emulated_precision_warning(torch.bfloat16, torch.device("cuda")) is None

    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    assert emulated_precision_warning(torch.bfloat16, CPU) is None
    assert emulated_precision_warning(torch.float16, CPU) is not None  # bf16 instructions only
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: frozenset({"fp", "asimd", "bf16"}))  # ARM
    assert emulated_precision_warning(torch.bfloat16, CPU) is None
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: None)  # nothing known: no guess
    assert emulated_precision_warning(torch.bfloat16, CPU) is None


def test_a_bfloat16_session_on_such_a_cpu_warns_and_still_tracks(monkeypatch, caplog):
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: frozenset({"avx2"}))
    torch.manual_seed(0)
    model = make_objects_visible(Sam2VideoModel(tiny_config()).eval())
    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 80, 3), dtype=np.uint8)
    with caplog.at_level(logging.WARNING, logger="sam2_hf"):
        VideoSession(model, frames)
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="sam2_hf"):
        session = VideoSession(model, frames, dtype=torch.bfloat16)
    assert [r.levelno for r in caplog.records] == [logging.WARNING] and "emulated" in caplog.text
    session.add_points(0, 1, [[15, 20]], [1])
    assert len(list(session.propagate())) == len(frames)
