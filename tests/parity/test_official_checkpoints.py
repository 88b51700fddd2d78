"""Loading Meta's official `.pt` layout: size/version inference, video weights, bad files."""

from __future__ import annotations

import pytest
import torch

from sam2_hf import Sam2Config, Sam2MaskDecoderModel, Sam2MemoryModel, Sam2Model, Sam2VideoModel, Sam2VisionModel


def test_video_model_takes_every_official_tensor(official_checkpoint):
    official, path = official_checkpoint
    model = Sam2VideoModel.from_pretrained(str(path))
    assert model.config.version == "2.1" and model.config.vision_config.embed_dim == 96
    ours = model.state_dict()
    # Spot-check renamed tensors of each memory component against the official ones.
    pairs = {
        "memory_attention.layers.3.cross_attn_image.k_proj.weight": "memory_attention.layers.3.cross_attn_image.k_proj.weight",
        "memory_encoder.mask_downsampler.convs.3.weight": "memory_encoder.mask_downsampler.encoder.9.weight",
        "memory_encoder.mask_downsampler.norms.1.bias": "memory_encoder.mask_downsampler.encoder.4.bias",
        "memory_encoder.mask_downsampler.final_conv.weight": "memory_encoder.mask_downsampler.encoder.12.weight",
        "memory_encoder.fuser.1.layer_scale": "memory_encoder.fuser.layers.1.gamma",
        "object_pointer_tpos_proj.weight": "obj_ptr_tpos_proj.weight",
        "no_object_spatial_embedding": "no_obj_embed_spatial",
        "memory_temporal_encoding": "maskmem_tpos_enc",
    }
    reference = official.state_dict()
    for ours_key, official_key in pairs.items():
        assert torch.equal(ours[ours_key], reference[official_key]), ours_key
    assert sum(t.numel() for t in ours.values()) == sum(t.numel() for t in reference.values())


@pytest.mark.parametrize("part_class", [Sam2VisionModel, Sam2MaskDecoderModel, Sam2MemoryModel])
def test_each_part_takes_its_tensors_from_an_official_checkpoint(official_checkpoint, part_class):
    """`Sam2VisionModel.from_pretrained("sam2.1_hiera_tiny.pt")` takes just the encoder's tensors."""
    path = str(official_checkpoint[1])
    whole = Sam2VideoModel.from_pretrained(path).state_dict()
    part = part_class.from_pretrained(path).state_dict()
    assert part and all(torch.equal(value, whole[key]) for key, value in part.items())


def test_sam20_checkpoint_is_recognised(tmp_path):
    from sam2.build_sam import build_sam2_video_predictor

    predictor = build_sam2_video_predictor("configs/sam2/sam2_hiera_t.yaml", ckpt_path=None, device="cpu")
    path = tmp_path / "sam2_hiera_tiny.pt"
    torch.save({"model": predictor.state_dict()}, path)
    model = Sam2VideoModel.from_pretrained(str(path))
    assert model.config.version == "2.0"
    assert not hasattr(model, "no_object_spatial_embedding")


def test_checkpoint_of_another_size_is_refused(official_checkpoint):
    _, path = official_checkpoint
    with pytest.raises(ValueError, match=r"wrong shapes .*vision_encoder\.trunk\.pos_embed|missing keys: .*vision_encoder\.trunk\.blocks\.11"):
        Sam2Model.from_pretrained(str(path), config=Sam2Config.from_preset("sam2.1-hiera-small"))


def test_not_a_sam2_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match="no top-level 'model' dict"):
        Sam2Model.from_pretrained(str(path))
    torch.save({"model": {"w": torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match="not a SAM 2 checkpoint"):
        Sam2Model.from_pretrained(str(path))
    with pytest.raises(ValueError, match="not found"):
        Sam2Model.from_pretrained(str(tmp_path / "missing.pt"))
