"""Memory encoder: fuses a frame's predicted mask with its image features into a compact memory."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..configuration import Sam2MemoryConfig
from .layers import LayerNorm2d, feature_map_position_encoding, in_token_chunks, one_row_if_shared


class MaskDownsampler(nn.Module):
    """Strided convolutions (each followed by LayerNorm2d + GELU) bringing a full-resolution mask
    down by ``total_stride``, multiplying the channels by ``stride**2`` each time, then a 1x1
    projection to the feature width."""

    def __init__(self, config: Sam2MemoryConfig, hidden_size: int) -> None:
        super().__init__()
        stride = config.mask_downsampler_stride
        num_layers = round(math.log(config.mask_downsampler_total_stride, stride))
        channels = [stride ** (2 * i) for i in range(num_layers + 1)]  # 1, 4, 16, 64, 256
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, config.mask_downsampler_kernel_size, stride=stride,
                      padding=config.mask_downsampler_kernel_size // 2)
            for c_in, c_out in zip(channels[:-1], channels[1:])
        )
        self.norms = nn.ModuleList(LayerNorm2d(c) for c in channels[1:])
        self.final_conv = nn.Conv2d(channels[-1], hidden_size, kernel_size=1)
        self.activation = nn.GELU()

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            masks = self.activation(norm(conv(masks)))
        return self.final_conv(masks)


class ConvNextBlock(nn.Module):
    """Depth-wise conv, LayerNorm, pointwise MLP with a learned per-channel scale, residual."""

    def __init__(self, dim: int, kernel_size: int, intermediate_dim: int, layer_scale_init_value: float) -> None:
        super().__init__()
        self.depthwise_conv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.pointwise_conv1 = nn.Linear(dim, intermediate_dim)
        self.activation = nn.GELU()
        self.pointwise_conv2 = nn.Linear(intermediate_dim, dim)
        self.layer_scale = nn.Parameter(torch.full((dim,), layer_scale_init_value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.depthwise_conv(x)).permute(0, 2, 3, 1)
        return x + in_token_chunks(self.pointwise_mlp, y).permute(0, 3, 1, 2)

    def pointwise_mlp(self, y: torch.Tensor) -> torch.Tensor:
        """The per-position MLP on channels-last ``y``, scaled by the learned per-channel scale."""
        return self.layer_scale * self.pointwise_conv2(self.activation(self.pointwise_conv1(y)))


class Sam2MemoryEncoder(nn.Module):
    """``(image features (N, C, h, w), mask logits (N, 1, S, S))`` -> memory ``(N, D, h, w)`` and its
    sine position encoding ``(1, D, h, w)``."""

    def __init__(self, config: Sam2MemoryConfig, hidden_size: int) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownsampler(config, hidden_size)
        self.feature_projection = nn.Conv2d(hidden_size, hidden_size, kernel_size=1)
        self.fuser = nn.ModuleList(
            ConvNextBlock(hidden_size, config.fuser_kernel_size, config.fuser_intermediate_dim,
                          config.layer_scale_init_value)
            for _ in range(config.fuser_num_layers)
        )
        self.out_proj = nn.Conv2d(hidden_size, config.memory_dim, kernel_size=1)

    def forward(
        self, image_features: torch.Tensor, masks: torch.Tensor, apply_sigmoid: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if apply_sigmoid:
            masks = torch.sigmoid(masks)
        x = self.feature_projection(one_row_if_shared(image_features)) + self.mask_downsampler(masks)
        # Channels-last, the fuser's per-position MLPs and norms read and write the residual stream
        # without a strided copy each way (with LayerNorm2d's fused kernel, the 3-object memory
        # encoder on two Xeon cores: 0.30 -> 0.23 s).
        x = x.contiguous(memory_format=torch.channels_last)
        for block in self.fuser:
            x = block(x)
        memory = self.out_proj(x).contiguous()
        pos = feature_map_position_encoding(memory.shape[1], *memory.shape[-2:], memory.device)
        return memory, pos.to(memory.dtype)
