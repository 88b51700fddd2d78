"""Prompt encoder: clicks and box corners become sparse tokens, a mask becomes a dense map."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..configuration import Sam2MaskDecoderConfig
from .layers import LayerNorm2d

# Point labels understood by the model. Boxes are given as two points labelled BOX_TOP_LEFT and
# BOX_BOTTOM_RIGHT; PADDING marks "no point" (a point that only carries the not-a-point token).
PADDING, NEGATIVE, POSITIVE, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT = -1, 0, 1, 2, 3


class RandomFourierPositionEncoding(nn.Module):
    """Encodes normalised ``(x, y)`` in ``[0, 1]`` with fixed random Gaussian frequencies."""

    def __init__(self, num_channels: int) -> None:
        super().__init__()
        self.register_buffer("gaussian_matrix", torch.randn(2, num_channels // 2))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        # Always float32: coordinates need the precision, whatever dtype the model runs in.
        projected = 2 * math.pi * ((2 * coords.float() - 1) @ self.gaussian_matrix.float())
        return torch.cat([projected.sin(), projected.cos()], dim=-1)

    def grid(self, height: int, width: int) -> torch.Tensor:
        """Encoding of every cell centre of a ``height x width`` grid, shape ``(C, H, W)``."""
        device = self.gaussian_matrix.device
        y = (torch.arange(height, dtype=torch.float32, device=device) + 0.5) / height
        x = (torch.arange(width, dtype=torch.float32, device=device) + 0.5) / width
        coords = torch.stack(torch.broadcast_tensors(x[None, :], y[:, None]), dim=-1)
        return self(coords).permute(2, 0, 1)


class MaskEmbedding(nn.Module):
    """Downscales a 4x-resolution mask (256x256 at 1024 input) to the image embedding grid."""

    def __init__(self, hidden_size: int, mask_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, mask_channels // 4, kernel_size=2, stride=2)
        self.norm1 = LayerNorm2d(mask_channels // 4)
        self.conv2 = nn.Conv2d(mask_channels // 4, mask_channels, kernel_size=2, stride=2)
        self.norm2 = LayerNorm2d(mask_channels)
        self.conv3 = nn.Conv2d(mask_channels, hidden_size, kernel_size=1)
        self.activation = nn.GELU()

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        x = self.activation(self.norm1(self.conv1(masks)))
        x = self.activation(self.norm2(self.conv2(x)))
        return self.conv3(x)


class Sam2PromptEncoder(nn.Module):
    """Points (with labels) -> sparse tokens ``(N, P, C)``; mask logits -> dense map ``(N, C, h, w)``."""

    def __init__(self, config: Sam2MaskDecoderConfig, image_size: int, embedding_size: int) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.image_size = image_size
        self.embedding_size = embedding_size
        self.mask_input_size = 4 * embedding_size
        self.position_encoding = RandomFourierPositionEncoding(hidden)
        # One learned embedding per label: negative, positive, box top-left, box bottom-right.
        self.label_embeddings = nn.Embedding(4, hidden)
        self.not_a_point_embed = nn.Embedding(1, hidden)
        self.mask_embed = MaskEmbedding(hidden, config.mask_input_channels)
        self.no_mask_embed = nn.Embedding(1, hidden)

    def dense_position_encoding(self) -> torch.Tensor:
        """Position encoding of the image embedding grid, ``(1, C, h, w)``."""
        return self.position_encoding.grid(self.embedding_size, self.embedding_size)[None]

    def embed_points(self, coords: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
        """``coords`` ``(N, P, 2)`` in model-input pixels, ``labels`` ``(N, P)``. With ``pad``, a
        padding point is appended (the reference does this whenever no box tokens follow)."""
        coords = coords + 0.5  # centre of the pixel
        if pad:
            coords = torch.cat([coords, coords.new_zeros(coords.shape[0], 1, 2)], dim=1)
            labels = torch.cat([labels, labels.new_full((labels.shape[0], 1), PADDING)], dim=1)
        embedding = self.position_encoding(coords / self.image_size)
        embedding = embedding + self.label_embeddings(labels.clamp(min=0))
        is_padding = (labels == PADDING).unsqueeze(-1)
        return torch.where(is_padding, self.not_a_point_embed.weight.to(embedding.dtype), embedding)

    def forward(
        self,
        coords: torch.Tensor | None,
        labels: torch.Tensor | None,
        masks: torch.Tensor | None,
        batch_size: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(sparse, dense)`` embeddings for ``batch_size`` prompts.

        ``coords``/``labels`` may be ``None`` (mask-only prompt: no sparse tokens); ``masks`` are
        mask logits ``(N, 1, 4h, 4w)`` or ``None`` (the learned no-mask embedding is used).
        """
        hidden = self.no_mask_embed.weight.shape[1]
        if coords is not None:
            sparse = self.embed_points(coords, labels, pad=True)
        else:
            sparse = self.no_mask_embed.weight.new_zeros(batch_size, 0, hidden)
        if masks is not None:
            dense = self.mask_embed(masks)
        else:
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
                batch_size, -1, self.embedding_size, self.embedding_size
            )
        return sparse, dense
