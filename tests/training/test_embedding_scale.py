"""Rescaling the image embedding: only that level changes, memories stay, the trainer applies it."""

from __future__ import annotations

import pytest
import torch

from sam2_hf import Sam2Config, Sam2VideoModel
from sam2_hf.data import load_sav
from sam2_hf.processing.image_processor import Sam2ImageProcessor
from sam2_hf.training import TrainingConfig, train
from sam2_hf.training.clips import ClipDataset
from sam2_hf.training.embedding_scale import image_embedding_rms, rescale_image_embedding, set_image_embedding_rms
from sam2_hf.training.trainer import load_model, prepare_model

from ..conftest import tiny_config
from .test_training import write_config


def frames_and_features(model: Sam2VideoModel) -> tuple[torch.Tensor, list[torch.Tensor]]:
    pixels = torch.randn(2, 3, model.config.image_size, model.config.image_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return pixels, model.vision_encoder(pixels)


@torch.no_grad()
def test_rescaling_changes_the_embedding_level_alone_and_keeps_memories():
    torch.manual_seed(0)
    model = Sam2VideoModel(tiny_config()).eval()
    pixels, before = frames_and_features(model)
    masks = (torch.rand(3, 1, model.config.image_size, model.config.image_size) > 0.5).float() * 20 - 10
    scores = torch.ones(3, 1)
    memory_before = model.encode_memory(model.encode_frame(pixels[:1]).expand(3), masks, scores, binarize=True)

    rescale_image_embedding(model, 0.1)

    _, after = frames_and_features(model)
    torch.testing.assert_close(after[-1], before[-1] * 0.1, rtol=1e-5, atol=1e-6)
    for level_before, level_after in zip(before[:-1], after[:-1]):  # the decoder's high-resolution levels
        torch.testing.assert_close(level_after, level_before, rtol=0, atol=0)
    memory_after = model.encode_memory(model.encode_frame(pixels[:1]).expand(3), masks, scores, binarize=True)
    torch.testing.assert_close(memory_after, memory_before, rtol=1e-4, atol=1e-5)


@torch.no_grad()
def test_rescaling_keeps_the_decoders_token_updates_in_proportion_to_the_image_stream():
    """Each two-way layer adds image-to-token updates (weighted sums of token values: their size
    does not follow the image tokens') to the image tokens: scaled with the embedding, they keep
    their proportion to it; left alone they would be 50x louder and wipe the embedding out."""
    torch.manual_seed(0)
    model = Sam2VideoModel(tiny_config()).eval()
    layer = model.mask_decoder.transformer.layers[0]
    width = model.config.mask_decoder_config.hidden_size
    keys, queries = torch.randn(2, 64, width) * 50, torch.randn(2, 7, width)

    def update_share(keys: torch.Tensor) -> float:
        return float(layer.cross_attn_image_to_token(keys, queries, queries).norm() / keys.norm())

    before = update_share(keys)
    rescale_image_embedding(model, 0.02)
    assert 0.5 < update_share(keys * 0.02) / before < 2


def test_set_image_embedding_rms_reaches_the_target():
    torch.manual_seed(0)
    model = Sam2VideoModel(tiny_config()).eval()
    pixels, _ = frames_and_features(model)
    rms = image_embedding_rms(model, pixels)
    factor = set_image_embedding_rms(model, pixels, 3.0)
    assert factor == pytest.approx(3.0 / rms)
    assert image_embedding_rms(model, pixels) == pytest.approx(3.0, rel=1e-5)
    with pytest.raises(ValueError, match="positive"):
        set_image_embedding_rms(model, pixels, 0.0)


def test_a_neck_passing_the_embedding_to_higher_resolutions_is_refused():
    config = tiny_config().to_dict()
    config["vision_config"]["fpn_top_down_levels"] = [1, 2, 3]
    model = Sam2VideoModel(Sam2Config(**config))
    with pytest.raises(ValueError, match="fpn_top_down_levels"):
        rescale_image_embedding(model, 0.5)


def test_training_starts_from_the_rescaled_embedding_and_a_frozen_encoder_keeps_it(tmp_path, sav):
    config = TrainingConfig.from_file(write_config(tmp_path, sav, steps=3, save_every=0, image_embedding_rms=0.25,
                                                   freeze_image_encoder=True, seed=3))
    final = train(config)
    model = Sam2VideoModel.from_pretrained(final).eval()
    processor = Sam2ImageProcessor(model.config.image_size, model.config.image_mean, model.config.image_std)
    first_clip = ClipDataset(load_sav(config.train_data), processor, num_samples=config.steps, clip_length=config.clip_length,
                             max_objects=config.max_objects, seed=config.seed)[0]
    assert image_embedding_rms(model, first_clip["pixel_values"]) == pytest.approx(0.25, rel=1e-4)


def test_a_memory_restart_comes_after_the_rescale(tmp_path):
    """Fresh memory modules take the default initialisation, not the rescale's compensation."""
    torch.manual_seed(0)
    Sam2VideoModel(tiny_config()).save_pretrained(tmp_path / "checkpoint")
    config = TrainingConfig(train_data=str(tmp_path), output_dir=str(tmp_path / "run"), model=str(tmp_path / "checkpoint"),
                            image_embedding_rms=0.01, restart_memory=True)
    model = load_model(config)
    pixels, _ = frames_and_features(model)
    with pytest.raises(ValueError, match="real frames"):
        prepare_model(model, config)
    prepare_model(model, config, pixels)
    assert image_embedding_rms(model, pixels) == pytest.approx(0.01, rel=1e-4)
    fresh = Sam2VideoModel(tiny_config()).memory_encoder.feature_projection.weight
    assert float(model.memory_encoder.feature_projection.weight.norm()) == pytest.approx(float(fresh.norm()), rel=0.2)
