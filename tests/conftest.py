"""Shared fixtures: a tiny config for fast unit tests, seeded random weights, and the scripts
under scripts/ as modules."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from sam2_hf import Sam2Config, Sam2MaskDecoderConfig, Sam2MemoryConfig, Sam2VideoModel, Sam2VisionConfig


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` imported as a module (the scripts are not a package), so tests call
    its functions directly."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_config() -> Sam2Config:
    """A few-thousand-parameter SAM 2 at 128 px input: same structure, small widths."""
    return Sam2Config(
        vision_config=Sam2VisionConfig(
            embed_dim=16, num_heads=1, stages=(1, 1, 2, 1), global_attention_blocks=(3,),
            window_spec=(4, 4, 4, 2), window_pos_embed_background_size=(4, 4), fpn_hidden_size=32,
        ),
        mask_decoder_config=Sam2MaskDecoderConfig(
            hidden_size=32, num_attention_heads=2, mlp_dim=64, iou_head_hidden_dim=32,
        ),
        memory_config=Sam2MemoryConfig(
            memory_dim=16, feed_forward_dim=64, fuser_intermediate_dim=64,
        ),
        image_size=128,
    )


def make_objects_visible(model: torch.nn.Module) -> torch.nn.Module:
    """Random weights predict "no object" about half the time, which blanks every mask (-1024).
    A positive bias on the object-score head keeps objects present so masks carry signal."""
    with torch.no_grad():
        model.mask_decoder.object_score_head.layers[-1].bias.fill_(5.0)
    return model


@pytest.fixture
def config() -> Sam2Config:
    return tiny_config()


@pytest.fixture
def image() -> np.ndarray:
    """A 96x160 RGB image with a bright square, so masks have something to find."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 60, (96, 160, 3), dtype=np.uint8)
    pixels[30:70, 50:110] = 220
    return pixels


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A saved tiny video model (seeded, objects visible) for tests that load a model by folder."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_video_model")
    make_objects_visible(Sam2VideoModel(tiny_config())).save_pretrained(folder)
    return folder
