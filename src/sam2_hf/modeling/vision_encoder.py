"""The image encoder: Hiera trunk + FPN neck, giving the three feature levels SAM 2 uses; and
:class:`Sam2VisionModel`, the same as a model of its own."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..configuration import Sam2VisionConfig
from .hiera import Hiera
from .layers import feature_map_position_encoding
from .outputs import Sam2VisionOutput
from .pretrained import Sam2PartModel


class FpnNeck(nn.Module):
    """Projects every trunk stage to ``fpn_hidden_size`` channels with a 1x1 convolution and adds
    the upsampled deeper level on the ``fpn_top_down_levels`` (no output convolution)."""

    def __init__(self, config: Sam2VisionConfig) -> None:
        super().__init__()
        # Ordered deep to shallow, as in the reference checkpoints (lateral_convs.0 = stride 32).
        self.lateral_convs = nn.ModuleList(
            nn.Conv2d(dim, config.fpn_hidden_size, kernel_size=1) for dim in reversed(config.stage_dims)
        )
        self.top_down_levels = set(config.fpn_top_down_levels)
        self.interpolation = config.fpn_interpolation

    def forward(self, stage_outputs: list[torch.Tensor], level_projections: Sequence[nn.Conv2d] = ()) -> list[torch.Tensor]:
        """The FPN levels, highest resolution first; level ``i`` further projected by
        ``level_projections[i]`` (a 1x1 convolution) where one is given. Below the first top-down
        level, a level is its stage's lateral projection alone, and the two projections are
        composed into one: the wide map between them is never made (at 1024 px the stride-4
        level is 256 x 256 x 256 values, read once, by the mask decoder's 32-channel projection)."""
        deepest = len(stage_outputs) - 1
        composable = min(self.top_down_levels, default=deepest + 1)
        levels: list[torch.Tensor] = [None] * len(stage_outputs)  # type: ignore[list-item]
        previous = None
        for level in range(deepest, -1, -1):
            lateral = self.lateral_convs[deepest - level]
            projection = level_projections[level] if level < len(level_projections) else None
            if projection is not None and level < composable:
                levels[level] = composed_pointwise_projection(stage_outputs[level], lateral, projection)
                continue
            features = lateral(stage_outputs[level])
            if level in self.top_down_levels and previous is not None:
                top_down = F.interpolate(
                    previous.float(),
                    scale_factor=2.0,
                    mode=self.interpolation,
                    align_corners=None if self.interpolation == "nearest" else False,
                )
                features = features + top_down.to(features.dtype)
            previous = features
            levels[level] = features if projection is None else projection(features)
        return levels


def composed_pointwise_projection(x: torch.Tensor, first: nn.Conv2d, second: nn.Conv2d) -> torch.Tensor:
    """``second(first(x))`` for two 1x1 convolutions, as one linear map over ``x``'s channels.
    The trunk's stages are channel-last tensors seen as ``(B, C, H, W)``, so the map runs on
    their tokens as they lie and its output is such a view too."""
    inner, outer = first.weight.flatten(1), second.weight.flatten(1)  # (mid, in), (out, mid)
    # Only matrix products touch the weights: autocast casts each of their inputs, so the result
    # does not depend on whether the weights are stored in its dtype already.
    weight, bias = outer @ inner, F.linear(first.bias, outer, second.bias)
    return F.linear(x.permute(0, 2, 3, 1), weight, bias).permute(0, 3, 1, 2)


class Sam2VisionEncoder(nn.Module):
    """Pixels ``(B, 3, S, S)`` -> ``num_feature_levels`` FPN maps, highest resolution first
    (stride 4, 8 and 16 for the released models)."""

    def __init__(self, config: Sam2VisionConfig) -> None:
        super().__init__()
        self.trunk = Hiera(config)
        self.neck = FpnNeck(config)
        self.num_feature_levels = config.num_feature_levels

    def forward(self, pixel_values: torch.Tensor, level_projections: Sequence[nn.Conv2d] = ()) -> list[torch.Tensor]:
        """``level_projections``: 1x1 convolutions that the first levels go through next (the mask
        decoder's high-resolution projections), applied here so the neck can merge them with its
        own (see :meth:`FpnNeck.forward`)."""
        return self.neck(self.trunk(pixel_values), level_projections)[: self.num_feature_levels]


class Sam2VisionModel(Sam2PartModel):
    """SAM 2's image encoder (Hiera + FPN neck) alone: multi-scale features and their position
    encodings. Encode images once (over a data set, say) and decode prompts from the features
    with :class:`~sam2_hf.Sam2MaskDecoderModel`; freeze it while fine-tuning the rest."""

    config_class = Sam2VisionConfig
    config_key = "vision_config"
    description = "The image encoder (Hiera trunk and FPN neck)"

    @staticmethod
    def build_components(config: Sam2VisionConfig) -> dict[str, nn.Module]:
        return {"vision_encoder": Sam2VisionEncoder(config)}

    def forward(self, pixel_values: torch.Tensor, **kwargs) -> Sam2VisionOutput:
        """Features of preprocessed images ``(B, 3, S, S)`` (from :class:`~sam2_hf.Sam2Processor`)."""
        if pixel_values.ndim != 4 or pixel_values.shape[1] != 3:
            raise ValueError(f"pixel_values must have shape (batch, 3, size, size), got {tuple(pixel_values.shape)}")
        levels = self.vision_encoder(pixel_values.to(self.device, self.dtype))
        positions = tuple(feature_map_position_encoding(level.shape[1], *level.shape[-2:], level.device).to(level.dtype)
                          for level in levels)
        return Sam2VisionOutput(feature_maps=tuple(levels), position_encodings=positions)
