"""Sam2MemoryModel: SAM 2's memory (memory encoder, memory attention, object-pointer projections and
temporal encodings) as a model of its own, and the memory steps it shares with
:class:`~sam2_hf.Sam2VideoModel`."""

from __future__ import annotations

import torch
from torch import nn

from ..configuration import Sam2MemoryConfig
from .layers import MLP, feature_map_position_encoding, one_row_if_shared
from .memory_attention import Sam2MemoryAttention
from .memory_encoder import Sam2MemoryEncoder
from .outputs import Sam2FrameFeatures, Sam2MemoryTokens
from .pretrained import Sam2PartModel


class MemorySteps:
    """Remembering frames and reading the memories back, for any model holding the memory's
    components (the memory alone and the whole video model)."""

    memory_attention: Sam2MemoryAttention
    memory_encoder: Sam2MemoryEncoder

    @property
    def memory_settings(self) -> Sam2MemoryConfig:
        raise NotImplementedError

    def build_memory(
        self,
        spatial_memories: list[tuple[torch.Tensor, int]],
        object_pointers: list[tuple[torch.Tensor, int]],
        max_pointer_distance: int,
    ) -> Sam2MemoryTokens:
        """Attention tokens for ``N`` objects.

        Args:
            spatial_memories: ``(memory (N, D, h, w), temporal_index)`` per remembered frame: the
                index into the learned temporal encodings, ``num_maskmem - 1`` for a prompted
                frame and ``k - 1`` for the frame ``k`` steps back.
            object_pointers: ``(pointer (N, C), distance)`` per frame, ``distance`` the signed
                number of frames between it and the current frame.
            max_pointer_distance: the distance that maps to 1 in the pointers' temporal encoding.
        """
        memory_config = self.memory_settings
        tokens, positions = [], []
        memory_pos = None
        for features, temporal_index in spatial_memories:
            if memory_pos is None:
                memory_pos = feature_map_position_encoding(features.shape[1], *features.shape[-2:], features.device)[0].flatten(1).T
            tokens.append(features.flatten(2).transpose(1, 2))
            temporal = self.memory_temporal_encoding[temporal_index].reshape(1, 1, -1)
            positions.append((memory_pos[None] + temporal).expand(features.shape[0], -1, -1))
        num_pointer_tokens = 0
        if object_pointers:
            pointers = torch.stack([p for p, _ in object_pointers], dim=1)  # (N, P, C)
            n, p, c = pointers.shape
            dim = memory_config.memory_dim
            if memory_config.add_temporal_encoding_to_object_pointers:
                distances = torch.tensor([d for _, d in object_pointers], device=pointers.device, dtype=torch.float32)
                width = c if memory_config.project_temporal_encoding_to_object_pointers else dim
                pointer_pos = self.object_pointer_tpos_proj(_sine_1d(distances / max_pointer_distance, width).to(pointers.dtype))
                pointer_pos = pointer_pos[None].expand(n, -1, -1)
            else:
                pointer_pos = pointers.new_zeros(n, p, dim)
            if dim < c:
                # Each pointer becomes C / D tokens of width D, all with the pointer's position.
                pointers = pointers.reshape(n, p, c // dim, dim).flatten(1, 2)
                pointer_pos = pointer_pos.repeat_interleave(c // dim, dim=1)
            tokens.append(pointers)
            positions.append(pointer_pos)
            num_pointer_tokens = pointers.shape[1]
        # Memories may be stored in a lower precision than the model runs in.
        return Sam2MemoryTokens(
            torch.cat([t.to(self.dtype) for t in tokens], dim=1),
            torch.cat([p.to(self.dtype) for p in positions], dim=1),
            num_pointer_tokens,
        )

    def attend_to_memory(self, embeddings: torch.Tensor, position_encoding: torch.Tensor,
                         memory: Sam2MemoryTokens) -> torch.Tensor:
        """Image embeddings ``(N, C, h, w)`` (with their position encoding ``(1, C, h, w)``) after
        memory attention over ``memory``."""
        n, c, h, w = embeddings.shape
        conditioned = self.memory_attention(
            one_row_if_shared(embeddings).flatten(2).transpose(1, 2), position_encoding.flatten(2).transpose(1, 2),
            memory.tokens, memory.position, memory.num_pointer_tokens,
        )
        return conditioned.expand(n, -1, -1).transpose(1, 2).reshape(n, c, h, w)

    def encode_memory(
        self,
        features: Sam2FrameFeatures,
        high_res_masks: torch.Tensor,
        object_score_logits: torch.Tensor,
        binarize: bool,
    ) -> torch.Tensor:
        """Memory ``(N, D, h, w)`` of a frame from its (un-conditioned) features and mask logits
        ``(N, 1, S, S)``. ``binarize`` encodes the thresholded mask (prompted frames) instead of
        its sigmoid."""
        memory_config = self.memory_settings
        masks = (high_res_masks > 0).float() if binarize else torch.sigmoid(high_res_masks.float())
        masks = masks * memory_config.sigmoid_scale + memory_config.sigmoid_bias
        memory, _ = self.memory_encoder(features.image_embeddings, masks.to(self.dtype), apply_sigmoid=False)
        if memory_config.use_no_object_spatial_embedding:
            absent = (object_score_logits <= 0).to(memory.dtype)[..., None, None]
            memory = memory + absent * self.no_object_spatial_embedding[..., None, None]
        return memory


class Sam2MemoryModel(MemorySteps, Sam2PartModel):
    """SAM 2's memory alone: encodes a frame's features and mask into a memory
    (:meth:`encode_memory`), turns remembered frames and object pointers into attention tokens
    (:meth:`build_memory`) and conditions a new frame's features on them (``forward``).
    Swap it between checkpoints of the same size with :meth:`Sam2VideoModel.from_parts`."""

    config_class = Sam2MemoryConfig
    config_key = "memory_config"
    description = "The memory (memory encoder, memory attention, object-pointer projections and temporal encodings)"

    @property
    def memory_settings(self) -> Sam2MemoryConfig:
        return self.config

    @staticmethod
    def build_components(config: Sam2MemoryConfig) -> dict[str, nn.Module | nn.Parameter]:
        hidden = config.hidden_size
        components: dict[str, nn.Module | nn.Parameter] = {
            "memory_attention": Sam2MemoryAttention(config, hidden),
            "memory_encoder": Sam2MemoryEncoder(config, hidden),
            # A mask prompt is brought to the decoder's mask-input size before computing its pointer.
            "mask_prompt_downsample": nn.Conv2d(1, 1, kernel_size=4, stride=4),
            "object_pointer_proj": MLP(hidden, hidden, hidden, num_layers=3),
            "object_pointer_tpos_proj": (nn.Linear(hidden, config.memory_dim)
                                         if config.project_temporal_encoding_to_object_pointers else nn.Identity()),
            # Temporal position of each memory slot; the last slot is used by prompted frames.
            "memory_temporal_encoding": nn.Parameter(torch.zeros(config.num_maskmem, 1, 1, config.memory_dim)),
            "no_memory_pos_enc": nn.Parameter(torch.zeros(1, 1, hidden)),
            "no_object_pointer": nn.Parameter(torch.zeros(1, hidden)),
        }
        if config.use_no_object_spatial_embedding:
            components["no_object_spatial_embedding"] = nn.Parameter(torch.zeros(1, config.memory_dim))
        return components

    def forward(self, image_embeddings: torch.Tensor, position_encoding: torch.Tensor, memory: Sam2MemoryTokens,
                **kwargs) -> torch.Tensor:
        """A frame's image embeddings ``(N, C, h, w)`` conditioned on ``memory`` (:meth:`build_memory`)."""
        return self.attend_to_memory(image_embeddings, position_encoding, memory)


def _sine_1d(positions: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """1-D sine/cosine encoding ``(P, dim)`` of (normalised) positions ``(P,)``."""
    half = dim // 2
    dim_t = torch.arange(half, dtype=torch.float32, device=positions.device)
    dim_t = temperature ** (2 * (dim_t // 2) / half)
    angles = positions[:, None] / dim_t
    return torch.cat([angles.sin(), angles.cos()], dim=-1)
