"""Key maps from the two checkpoint layouts people already have to ours, and size inference.

* Meta's official release: a ``.pt`` file holding ``{"model": state_dict}`` with keys such as
  ``image_encoder.trunk.blocks.0.attn.qkv.weight`` or ``sam_mask_decoder.iou_token.weight``.
* transformers' ``Sam2Model`` / ``Sam2VideoModel`` (the ``facebook/sam2.1-hiera-*`` repos):
  ``config.json`` with ``model_type`` ``sam2`` / ``sam2_video`` and ``model.safetensors``.

Both maps are pure functions on state dicts; :mod:`sam2_hf.modeling.pretrained` reads the files.
"""

from __future__ import annotations

import re
from collections import defaultdict

import torch

from .configuration import PRESETS, Sam2Config

# (pattern, replacement) pairs applied in order with re.sub; each key stops at its first match.
_OFFICIAL_RULES: list[tuple[str, str]] = [
    (r"^image_encoder\.trunk\.patch_embed\.proj\.", "vision_encoder.trunk.patch_embed."),
    (r"^image_encoder\.neck\.convs\.(\d+)\.conv\.", r"vision_encoder.neck.lateral_convs.\1."),
    (r"^image_encoder\.", "vision_encoder."),
    (r"^sam_prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix$", "prompt_encoder.position_encoding.gaussian_matrix"),
    (r"^sam_prompt_encoder\.mask_downscaling\.0\.", "prompt_encoder.mask_embed.conv1."),
    (r"^sam_prompt_encoder\.mask_downscaling\.1\.", "prompt_encoder.mask_embed.norm1."),
    (r"^sam_prompt_encoder\.mask_downscaling\.3\.", "prompt_encoder.mask_embed.conv2."),
    (r"^sam_prompt_encoder\.mask_downscaling\.4\.", "prompt_encoder.mask_embed.norm2."),
    (r"^sam_prompt_encoder\.mask_downscaling\.6\.", "prompt_encoder.mask_embed.conv3."),
    (r"^sam_prompt_encoder\.", "prompt_encoder."),
    (r"^sam_mask_decoder\.transformer\.norm_final_attn\.", "mask_decoder.transformer.norm_final."),
    (r"^sam_mask_decoder\.output_upscaling\.0\.", "mask_decoder.upscale_conv1."),
    (r"^sam_mask_decoder\.output_upscaling\.1\.", "mask_decoder.upscale_norm."),
    (r"^sam_mask_decoder\.output_upscaling\.3\.", "mask_decoder.upscale_conv2."),
    (r"^sam_mask_decoder\.obj_score_token\.", "mask_decoder.object_score_token."),
    (r"^sam_mask_decoder\.pred_obj_score_head\.", "mask_decoder.object_score_head."),
    (r"^sam_mask_decoder\.", "mask_decoder."),
    (r"^memory_encoder\.pix_feat_proj\.", "memory_encoder.feature_projection."),
    (r"^memory_encoder\.fuser\.layers\.(\d+)\.dwconv\.", r"memory_encoder.fuser.\1.depthwise_conv."),
    (r"^memory_encoder\.fuser\.layers\.(\d+)\.pwconv(\d)\.", r"memory_encoder.fuser.\1.pointwise_conv\2."),
    (r"^memory_encoder\.fuser\.layers\.(\d+)\.gamma$", r"memory_encoder.fuser.\1.layer_scale"),
    (r"^memory_encoder\.fuser\.layers\.(\d+)\.norm\.", r"memory_encoder.fuser.\1.norm."),
    (r"^mask_downsample\.", "mask_prompt_downsample."),
    (r"^obj_ptr_proj\.", "object_pointer_proj."),
    (r"^obj_ptr_tpos_proj\.", "object_pointer_tpos_proj."),
    (r"^maskmem_tpos_enc$", "memory_temporal_encoding"),
    (r"^no_mem_embed$", "no_memory_embedding"),
    (r"^no_mem_pos_enc$", "no_memory_pos_enc"),
    (r"^no_obj_ptr$", "no_object_pointer"),
    (r"^no_obj_embed_spatial$", "no_object_spatial_embedding"),
]

_TRANSFORMERS_RULES: list[tuple[str, str]] = [
    (r"^vision_encoder\.backbone\.patch_embed\.projection\.", "vision_encoder.trunk.patch_embed."),
    (r"^vision_encoder\.backbone\.blocks\.(\d+)\.layer_norm(\d)\.", r"vision_encoder.trunk.blocks.\1.norm\2."),
    (r"^vision_encoder\.backbone\.", "vision_encoder.trunk."),
    (r"^vision_encoder\.neck\.convs\.", "vision_encoder.neck.lateral_convs."),
    (r"^shared_image_embedding\.positional_embedding$", "prompt_encoder.position_encoding.gaussian_matrix"),
    (r"^prompt_encoder\.shared_embedding\.positional_embedding$", "prompt_encoder.position_encoding.gaussian_matrix"),
    (r"^prompt_encoder\.point_embed\.", "prompt_encoder.label_embeddings."),
    (r"^prompt_encoder\.mask_embed\.layer_norm(\d)\.", r"prompt_encoder.mask_embed.norm\1."),
    (r"^(mask_decoder\.transformer\.layers\.\d+)\.layer_norm(\d)\.", r"\1.norm\2."),
    (r"^mask_decoder\.transformer\.layer_norm_final_attn\.", "mask_decoder.transformer.norm_final."),
    (r"^mask_decoder\.upscale_layer_norm\.", "mask_decoder.upscale_norm."),
    (r"^mask_decoder\.obj_score_token\.", "mask_decoder.object_score_token."),
    (r"^mask_decoder\.pred_obj_score_head\.", "mask_decoder.object_score_head."),
    (r"^(memory_attention\.layers\.\d+)\.layer_norm(\d)\.", r"\1.norm\2."),
    (r"^memory_attention\.layer_norm\.", "memory_attention.norm."),
    (r"^memory_encoder\.mask_downsampler\.layers\.(\d+)\.conv\.", r"memory_encoder.mask_downsampler.convs.\1."),
    (r"^memory_encoder\.mask_downsampler\.layers\.(\d+)\.layer_norm\.", r"memory_encoder.mask_downsampler.norms.\1."),
    (r"^memory_encoder\.memory_fuser\.layers\.(\d+)\.layer_norm\.", r"memory_encoder.fuser.\1.norm."),
    (r"^memory_encoder\.memory_fuser\.layers\.(\d+)\.scale$", r"memory_encoder.fuser.\1.layer_scale"),
    (r"^memory_encoder\.memory_fuser\.layers\.", "memory_encoder.fuser."),
    (r"^memory_encoder\.projection\.", "memory_encoder.out_proj."),
    (r"^mask_downsample\.", "mask_prompt_downsample."),
    (r"^temporal_positional_encoding_projection_layer\.", "object_pointer_tpos_proj."),
    (r"^memory_temporal_positional_encoding$", "memory_temporal_encoding"),
    (r"^no_memory_positional_encoding$", "no_memory_pos_enc"),
    (r"^occlusion_spatial_embedding_parameter$", "no_object_spatial_embedding"),
]


_TRANSFORMERS_FOURIER_KEYS = ("shared_image_embedding.positional_embedding", "prompt_encoder.shared_embedding.positional_embedding")


def _rename(key: str, rules: list[tuple[str, str]]) -> str:
    """Apply the first rule that matches ``key``."""
    for pattern, replacement in rules:
        new, n = re.subn(pattern, replacement, key)
        if n:
            return new
    return key


def official_to_ours(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert the ``model`` dict of an official ``.pt`` to our keys."""
    out = {}
    label_embeddings = {}
    for key, value in ((_rename(k, _OFFICIAL_RULES), v) for k, v in state_dict.items()):
        match = re.fullmatch(r"prompt_encoder\.point_embeddings\.(\d)\.weight", key)
        downsampler = re.fullmatch(r"memory_encoder\.mask_downsampler\.encoder\.(\d+)\.(weight|bias)", key)
        if match:
            label_embeddings[int(match.group(1))] = value
        elif downsampler:
            # Sequential of (conv, norm, GELU) x 4, then the 1x1 conv at index 12.
            index, kind = int(downsampler.group(1)), downsampler.group(2)
            name = {0: f"convs.{index // 3}", 1: f"norms.{index // 3}"}.get(index % 3)
            if index == 12:
                name = "final_conv"
            out[f"memory_encoder.mask_downsampler.{name}.{kind}"] = value
        else:
            out[key] = value
    if label_embeddings:
        out["prompt_encoder.label_embeddings.weight"] = torch.cat(
            [label_embeddings[i] for i in sorted(label_embeddings)]
        )
    return out


def transformers_key_map(keys: list[str]) -> dict[str, str]:
    """Our key for each key of a transformers ``Sam2Model``/``Sam2VideoModel`` state dict (both
    copies of the Fourier matrix map to the same key)."""
    renamed = {key: _rename(key.replace(".o_proj.", ".out_proj."), _TRANSFORMERS_RULES) for key in keys}
    # transformers splits MLPs into proj_in / layers.k / proj_out; ours numbers them all `layers.i`.
    targets = set(renamed.values())
    mlp_prefixes = {k.rsplit(".proj_in.", 1)[0] for k in targets if ".proj_in." in k}
    middle_counts: dict[str, set[int]] = defaultdict(set)
    for key in targets:
        match = re.match(r"(.*)\.layers\.(\d+)\.(weight|bias)$", key)
        if match and match.group(1) in mlp_prefixes:
            middle_counts[match.group(1)].add(int(match.group(2)))
    key_map = {}
    for original, key in renamed.items():
        match = re.match(r"(.*)\.(proj_in|proj_out|layers\.(\d+))\.(weight|bias)$", key)
        if match and match.group(1) in mlp_prefixes:
            prefix, part, middle, kind = match.groups()
            index = {"proj_in": 0, "proj_out": len(middle_counts[prefix]) + 1}.get(part)
            key = f"{prefix}.layers.{int(middle) + 1 if index is None else index}.{kind}"
        key_map[original] = key
    return key_map


def transformers_to_ours(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert a transformers ``Sam2Model``/``Sam2VideoModel`` state dict to our keys."""
    # transformers keeps two copies of the prompt encoder's Fourier matrix (one for the image grid,
    # one for points); released checkpoints hold the same values in both.
    shared = [state_dict[k] for k in _TRANSFORMERS_FOURIER_KEYS if k in state_dict]
    if len(shared) == 2 and not torch.equal(*shared):
        raise ValueError(f"{' and '.join(_TRANSFORMERS_FOURIER_KEYS)} differ; SAM 2 uses one position encoding for both")
    key_map = transformers_key_map(list(state_dict))
    return {key_map[key]: value for key, value in state_dict.items()}


def infer_config(state_dict: dict[str, torch.Tensor]) -> Sam2Config:
    """The preset whose tensor shapes match a state dict in our key layout.

    Sizes are told apart by the trunk width and depth, versions by the SAM 2.1-only tensors.
    Raises ``ValueError`` when no preset fits.
    """
    try:
        embed_dim = state_dict["vision_encoder.trunk.pos_embed"].shape[1]
    except KeyError:
        raise ValueError("not a SAM 2 checkpoint: it has no Hiera position embedding") from None
    depth = 1 + max(int(m.group(1)) for k in state_dict if (m := re.match(r"vision_encoder\.trunk\.blocks\.(\d+)\.", k)))
    has_memory = any(k.startswith("memory_attention.") for k in state_dict)
    is_21 = "no_object_spatial_embedding" in state_dict or "object_pointer_tpos_proj.weight" in state_dict
    version = "sam2.1" if is_21 or not has_memory else "sam2"
    for name in PRESETS:
        if not name.startswith(version + "-"):
            continue
        config = Sam2Config.from_preset(name)
        if config.vision_config.embed_dim == embed_dim and sum(config.vision_config.stages) == depth:
            return config
    raise ValueError(f"no SAM 2 preset has a Hiera trunk of width {embed_dim} and {depth} blocks")
