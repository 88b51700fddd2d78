"""Sam2VideoModel: the image model plus the memory that lets it track objects through a video.

This module holds the weights of the memory side (memory attention, memory encoder, object
pointers and their temporal encodings). The stateless per-frame tracking step and the streaming
session that drives it build on these modules (see the video-tracking issue); until then the
model segments single images exactly like :class:`Sam2Model`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..configuration import Sam2Config
from .layers import MLP
from .memory_attention import Sam2MemoryAttention
from .memory_encoder import Sam2MemoryEncoder
from .sam2_model import Sam2Model


class Sam2VideoModel(Sam2Model):
    """:class:`Sam2Model` with the memory modules of SAM 2's video path."""

    _keys_to_ignore_on_load_unexpected = None

    def __init__(self, config: Sam2Config) -> None:
        super().__init__(config)
        memory = config.memory_config
        hidden = config.mask_decoder_config.hidden_size
        self.memory_attention = Sam2MemoryAttention(memory, hidden)
        self.memory_encoder = Sam2MemoryEncoder(memory, hidden)
        # A mask prompt is brought to the decoder's mask-input size before computing its pointer.
        self.mask_prompt_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.object_pointer_proj = MLP(hidden, hidden, hidden, num_layers=3)
        if memory.project_temporal_encoding_to_object_pointers:
            self.object_pointer_tpos_proj = nn.Linear(hidden, memory.memory_dim)
        else:
            self.object_pointer_tpos_proj = nn.Identity()
        # Temporal position of each memory slot (slot num_maskmem - 1 holds prompted frames).
        self.memory_temporal_encoding = nn.Parameter(torch.zeros(memory.num_maskmem, 1, 1, memory.memory_dim))
        self.no_memory_pos_enc = nn.Parameter(torch.zeros(1, 1, hidden))
        self.no_object_pointer = nn.Parameter(torch.zeros(1, hidden))
        if memory.use_no_object_spatial_embedding:
            self.no_object_spatial_embedding = nn.Parameter(torch.zeros(1, memory.memory_dim))
        self.post_init()
