"""The three parts of SAM 2 as models of their own: each loads from what the whole model loads
from, saves a folder that loads alone, and the whole models are built from them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import transformers
from safetensors.torch import load_file

from sam2_hf import (
    Sam2Config,
    Sam2MaskDecoderModel,
    Sam2MemoryModel,
    Sam2Model,
    Sam2Processor,
    Sam2VideoModel,
    Sam2VisionModel,
)

from .conftest import make_objects_visible, tiny_config

PARTS = (Sam2VisionModel, Sam2MaskDecoderModel, Sam2MemoryModel)


@pytest.fixture(scope="module")
def whole():
    torch.manual_seed(0)
    return make_objects_visible(Sam2VideoModel(tiny_config())).eval()


@pytest.fixture(scope="module")
def inputs(whole):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (90, 120, 3), dtype=np.uint8) for _ in range(2)]
    processor = Sam2Processor.from_config(whole.config)
    return processor(images=images, input_points=[[[[30, 40]], [[80, 60]]], [[[10, 10]], [[100, 70]]]],
                     input_labels=[[[1], [1]], [[1], [0]]])


def _prompts(inputs):
    return {"input_points": inputs["input_points"], "input_labels": inputs["input_labels"]}


@pytest.mark.parametrize("part_class", PARTS)
def test_parts_are_pretrained_models_registered_with_auto(tmp_path, whole, part_class):
    assert issubclass(part_class, transformers.PreTrainedModel)
    part = part_class.view_of(whole)
    part.save_pretrained(tmp_path)
    loaded = transformers.AutoModel.from_pretrained(tmp_path)
    assert type(loaded) is part_class
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == part_class.config_class.model_type
    assert part_class.__name__ in (tmp_path / "README.md").read_text()
    saved = load_file(tmp_path / "model.safetensors")
    expected = part.state_dict()
    assert set(saved) == set(expected) and all(torch.equal(saved[k], expected[k]) for k in expected)


@pytest.mark.parametrize("part_class", PARTS)
def test_part_from_a_whole_folder_takes_the_whole_models_tensors(tmp_path, whole, part_class):
    whole.save_pretrained(tmp_path)
    part = part_class.from_pretrained(tmp_path)
    expected = whole.state_dict()
    got = part.state_dict()
    assert got and all(torch.equal(value, expected[key]) for key, value in got.items())


def test_parts_cover_the_whole_model_once(whole):
    names = [set(part_class.view_of(whole).state_dict()) for part_class in PARTS]
    assert sum(len(n) for n in names) == len(whole.state_dict()) and set().union(*names) == set(whole.state_dict())
    assert sum(part_class.view_of(whole).num_parameters() for part_class in PARTS) == whole.num_parameters()


def test_vision_features_decoded_by_the_decoder_give_the_whole_models_masks(whole, inputs):
    image_model = Sam2Model.from_parts(whole.vision_model, whole.mask_decoder_model)
    with torch.no_grad():
        expected = image_model(pixel_values=inputs["pixel_values"], **_prompts(inputs))
        vision = whole.vision_model(inputs["pixel_values"])
        got = whole.mask_decoder_model(feature_maps=vision.feature_maps, **_prompts(inputs))
    assert len(vision.feature_maps) == len(vision.position_encodings) == 3
    # The whole model merges the neck's and the decoder's high-resolution projections into one
    # (FpnNeck.forward): the same numbers up to float32 rounding.
    torch.testing.assert_close(got.pred_masks, expected.pred_masks, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got.iou_scores, expected.iou_scores, rtol=1e-5, atol=1e-6)


def test_precomputed_features_stored_in_a_dataset_decode_to_the_same_masks(whole, inputs):
    """Encode a data set's images once with `datasets.map`, decode clicks later from the stored features."""
    import datasets

    vision, decoder = whole.vision_model, whole.mask_decoder_model

    def encode(batch):
        with torch.no_grad():
            maps = vision(torch.as_tensor(np.asarray(batch["pixel_values"], np.float32))).feature_maps
        return {f"level_{i}": level.numpy() for i, level in enumerate(maps)}

    images = datasets.Dataset.from_dict({"pixel_values": inputs["pixel_values"].numpy()})
    features = images.map(encode, batched=True, batch_size=2, remove_columns=["pixel_values"]).with_format("torch")
    rows = features[:]  # later: all rows (or a batch of them) as tensors
    stored = [rows[f"level_{i}"] for i in range(3)]
    with torch.no_grad():
        got = decoder(feature_maps=stored, **_prompts(inputs))
        expected = whole.mask_decoder_model(feature_maps=vision(inputs["pixel_values"]).feature_maps, **_prompts(inputs))
    # Equal up to float rounding: the encoder met the images in another memory layout.
    torch.testing.assert_close(got.pred_masks, expected.pred_masks, rtol=0, atol=1e-5)


def test_a_decoder_from_another_checkpoint_swaps_in(whole, inputs):
    torch.manual_seed(5)
    other = make_objects_visible(Sam2VideoModel(tiny_config())).eval()
    swapped = Sam2VideoModel.from_parts(whole.vision_model, other.mask_decoder_model, whole.memory_model)
    assert swapped.mask_decoder is other.mask_decoder and swapped.vision_encoder is whole.vision_encoder
    with torch.no_grad():
        got = swapped(pixel_values=inputs["pixel_values"], **_prompts(inputs))
        features = whole.vision_model(inputs["pixel_values"]).feature_maps
        expected = other.mask_decoder_model(feature_maps=features, **_prompts(inputs))
        original = whole(pixel_values=inputs["pixel_values"], **_prompts(inputs))
    torch.testing.assert_close(got.pred_masks, expected.pred_masks, rtol=1e-5, atol=1e-5)  # see the test above
    assert not torch.allclose(got.pred_masks, original.pred_masks, rtol=1e-3, atol=1e-3)


def test_parts_of_different_sizes_are_refused_naming_both(whole):
    config = tiny_config()
    config.vision_config.fpn_hidden_size = 48
    config.mask_decoder_config.hidden_size = 48
    wider = Sam2VideoModel(Sam2Config(vision_config=config.vision_config, mask_decoder_config=config.mask_decoder_config,
                                      memory_config=config.memory_config, image_size=config.image_size))
    with pytest.raises(ValueError, match=r"32-channel.*takes 48"):
        Sam2Model.from_parts(whole.vision_model, wider.mask_decoder_model)
    with pytest.raises(ValueError, match=r"memory works on 32-channel.*decoder's are 48"):
        Sam2VideoModel.from_parts(wider.vision_model, wider.mask_decoder_model, whole.memory_model)
    with pytest.raises(ValueError, match="one each of Sam2VisionModel, Sam2MaskDecoderModel, Sam2MemoryModel"):
        Sam2VideoModel.from_parts(whole.vision_model, whole.mask_decoder_model)


def test_a_frozen_vision_model_stays_put_while_the_rest_trains(whole, inputs):
    """Fine-tuning with a frozen vision model: freezing the part freezes the whole model's encoder."""
    torch.manual_seed(1)
    model = Sam2Model(tiny_config())
    model.vision_model.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    output = model(pixel_values=inputs["pixel_values"], **_prompts(inputs))
    output.pred_masks.square().mean().backward()
    optimizer.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and not any(k.startswith("vision_encoder.") for k in changed)
    assert any(k.startswith("mask_decoder.") for k in changed)


def test_a_part_folder_is_refused_by_the_whole_model_naming_what_it_holds(tmp_path, whole):
    whole.vision_model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'sam2_hf_vision'"):
        Sam2VideoModel.from_pretrained(tmp_path)
