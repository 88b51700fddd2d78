"""Mask decoder: output tokens + prompt tokens + image embedding -> mask logits and scores."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..configuration import Sam2MaskDecoderConfig
from .layers import MLP, LayerNorm2d
from .two_way_transformer import TwoWayTransformer


@dataclass
class MaskDecoderOutput:
    """What one pass of the decoder gives, for ``N`` prompts and ``M`` returned masks."""

    masks: torch.Tensor  # (N, M, 4h, 4w) logits
    iou_scores: torch.Tensor  # (N, M)
    pointer_tokens: torch.Tensor  # (N, M or 1, C): output tokens the object pointer is made from
    object_score_logits: torch.Tensor  # (N, 1): > 0 where the object is present


class Sam2MaskDecoder(nn.Module):
    def __init__(self, config: Sam2MaskDecoderConfig) -> None:
        super().__init__()
        dim = config.hidden_size
        self.config = config
        self.num_mask_tokens = config.num_multimask_outputs + 1
        self.transformer = TwoWayTransformer(
            dim, config.num_layers, config.num_attention_heads, config.mlp_dim, config.attention_downsample_rate
        )
        self.object_score_token = nn.Embedding(1, dim) if config.predict_object_scores else None
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, dim)

        self.upscale_conv1 = nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2)
        self.upscale_norm = LayerNorm2d(dim // 4)
        self.upscale_conv2 = nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2)
        self.activation = nn.GELU()
        if config.use_high_res_features:
            # Project the stride-4 / stride-8 FPN levels to the widths of the two upscaling steps.
            self.conv_s0 = nn.Conv2d(dim, dim // 8, kernel_size=1)
            self.conv_s1 = nn.Conv2d(dim, dim // 4, kernel_size=1)

        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(dim, dim, dim // 8, num_layers=3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            dim, config.iou_head_hidden_dim, self.num_mask_tokens, config.iou_head_depth,
            sigmoid_output=config.iou_prediction_use_sigmoid,
        )
        self.object_score_head = MLP(dim, dim, 1, num_layers=3) if config.predict_object_scores else None

    def high_res_projections(self) -> list[nn.Conv2d]:
        """The 1x1 convolutions the two high-resolution FPN levels go through (none without
        high-resolution features); the image encoder can apply them merged with its own
        (:meth:`~sam2_hf.modeling.vision_encoder.Sam2VisionEncoder.forward`)."""
        return [self.conv_s0, self.conv_s1] if self.config.use_high_res_features else []

    def project_high_res_features(self, fpn_levels: list[torch.Tensor]) -> list[torch.Tensor]:
        """The two high-resolution FPN levels, projected once per image for every later decode."""
        return [conv(level) for conv, level in zip(self.high_res_projections(), fpn_levels)]

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_embeddings: torch.Tensor,
        dense_embeddings: torch.Tensor,
        multimask_output: bool,
        high_res_features: list[torch.Tensor] | None = None,
    ) -> MaskDecoderOutput:
        """``image_embeddings`` ``(N, C, h, w)`` (one row per prompt), ``image_pe`` ``(1, C, h, w)``,
        ``sparse_embeddings`` ``(N, T, C)``, ``dense_embeddings`` ``(N, C, h, w)``;
        ``high_res_features`` as from :meth:`project_high_res_features`, one row per prompt."""
        n = sparse_embeddings.shape[0]
        output_tokens = [self.iou_token.weight, self.mask_tokens.weight]
        if self.object_score_token is not None:
            output_tokens.insert(0, self.object_score_token.weight)
        output_tokens = torch.cat(output_tokens).unsqueeze(0).expand(n, -1, -1)
        tokens = torch.cat([output_tokens, sparse_embeddings.to(output_tokens.dtype)], dim=1)

        src = image_embeddings + dense_embeddings
        b, c, h, w = src.shape
        pos = image_pe.expand(b, -1, -1, -1)
        hidden, src = self.transformer(src, pos, tokens)
        first = 1 if self.object_score_token is not None else 0
        iou_token_out = hidden[:, first]
        mask_tokens_out = hidden[:, first + 1 : first + 1 + self.num_mask_tokens]

        src = src.transpose(1, 2).reshape(b, c, h, w)
        upscaled = self.upscale_conv1(src)
        if high_res_features:
            feat_s0, feat_s1 = high_res_features
            upscaled = self.activation(self.upscale_norm(upscaled + feat_s1))
            upscaled = self.activation(self.upscale_conv2(upscaled) + feat_s0)
        else:
            upscaled = self.activation(self.upscale_norm(upscaled))
            upscaled = self.activation(self.upscale_conv2(upscaled))

        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w)
        iou_scores = self.iou_prediction_head(iou_token_out)
        if self.object_score_head is not None:
            object_score_logits = self.object_score_head(hidden[:, 0])
        else:
            object_score_logits = iou_scores.new_full((b, 1), 10.0)

        return self._select_outputs(masks, iou_scores, mask_tokens_out, object_score_logits, multimask_output)

    def _select_outputs(
        self,
        masks: torch.Tensor,
        iou_scores: torch.Tensor,
        mask_tokens_out: torch.Tensor,
        object_score_logits: torch.Tensor,
        multimask_output: bool,
    ) -> MaskDecoderOutput:
        """Token 0 is the single-mask answer, tokens 1.. the multimask answers."""
        if multimask_output:
            masks, iou_scores = masks[:, 1:], iou_scores[:, 1:]
        elif self.config.dynamic_multimask_via_stability and not self.training:
            masks, iou_scores = self._fall_back_to_multimask_if_unstable(masks, iou_scores)
        else:
            masks, iou_scores = masks[:, :1], iou_scores[:, :1]
        if multimask_output and self.config.use_multimask_token_for_object_pointer:
            pointer_tokens = mask_tokens_out[:, 1:]
        else:
            pointer_tokens = mask_tokens_out[:, :1]
        return MaskDecoderOutput(masks, iou_scores, pointer_tokens, object_score_logits)

    def _fall_back_to_multimask_if_unstable(
        self, masks: torch.Tensor, iou_scores: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keep the single mask where it is stable, else the multimask output with the best IoU."""
        rows = torch.arange(masks.shape[0], device=masks.device)
        best = iou_scores[:, 1:].argmax(dim=-1)
        best_masks = masks[:, 1:][rows, best].unsqueeze(1)
        best_iou = iou_scores[:, 1:][rows, best].unsqueeze(1)
        single_masks, single_iou = masks[:, :1], iou_scores[:, :1]
        stable = stability_score(single_masks.flatten(-2), self.config.stability_delta) >= self.config.stability_threshold
        masks = torch.where(stable[..., None, None], single_masks, best_masks)
        iou_scores = torch.where(stable, single_iou, best_iou)
        return masks, iou_scores


def stability_score(mask_logits: torch.Tensor, delta: float) -> torch.Tensor:
    """IoU between the masks thresholded at ``+delta`` and ``-delta`` (1 where both are empty);
    ``mask_logits`` ``(..., pixels)``."""
    inner = (mask_logits > delta).sum(-1).float()
    outer = (mask_logits > -delta).sum(-1).float()
    return torch.where(outer > 0, inner / outer, 1.0)
