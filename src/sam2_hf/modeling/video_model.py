"""Sam2VideoModel: the image model plus the memory that lets it track objects through a video.

The model is stateless. One tracked frame is three calls, each on a batch of ``N`` objects:

1. :meth:`Sam2VideoModel.encode_frame` once per frame (shared by all objects);
2. :meth:`Sam2VideoModel.track_step` with the memories the caller chose for these objects
   (:meth:`build_memory` turns past frames' memories and object pointers into attention tokens),
   returning masks, scores and the object pointer;
3. :meth:`Sam2VideoModel.encode_memory` to turn the frame's mask into a memory for later frames.

Which past frames each object attends to is decided by the inference session
(:mod:`sam2_hf.inference`), which holds all per-video state.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from ..configuration import Sam2Config
from .layers import MLP, sine_position_encoding
from .memory_attention import Sam2MemoryAttention
from .memory_encoder import Sam2MemoryEncoder
from .prompt_encoder import PADDING
from .sam2_model import Sam2Model

NO_OBJECT_SCORE = -1024.0  # mask logit given to every pixel of an absent object
MASK_PROMPT_SCALE, MASK_PROMPT_BIAS = 20.0, -10.0  # binary mask -> logits (sigmoid(-10) ~ 0)


@dataclass
class Sam2FrameFeatures:
    """Image features of one frame, repeated (as views) for each of ``N`` objects."""

    image_embeddings: torch.Tensor  # (N, C, h, w), without any memory conditioning
    high_res_features: tuple[torch.Tensor, ...]  # projected stride-4 and stride-8 levels
    position_encoding: torch.Tensor  # (1, C, h, w)

    def expand(self, num_objects: int) -> "Sam2FrameFeatures":
        return Sam2FrameFeatures(
            self.image_embeddings.expand(num_objects, -1, -1, -1),
            tuple(level.expand(num_objects, -1, -1, -1) for level in self.high_res_features),
            self.position_encoding,
        )


@dataclass
class Sam2MemoryTokens:
    """What a batch of objects attends to: spatial memories then object-pointer tokens."""

    tokens: torch.Tensor  # (N, M, D)
    position: torch.Tensor  # (N, M, D)
    num_pointer_tokens: int


@dataclass
class Sam2TrackStepOutput:
    low_res_masks: torch.Tensor  # (N, 1, 4h, 4w) logits of the chosen mask
    high_res_masks: torch.Tensor  # (N, 1, S, S) the same, upsampled to the model input size
    iou_scores: torch.Tensor  # (N, 1)
    object_pointer: torch.Tensor  # (N, C)
    object_score_logits: torch.Tensor  # (N, 1)
    # Every candidate the decoder made (K = 3 with multimask output, else 1), for training losses;
    # None when a mask prompt was taken as the answer.
    candidate_masks: torch.Tensor | None = None  # (N, K, 4h, 4w) logits
    candidate_iou_scores: torch.Tensor | None = None  # (N, K)


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
        # Temporal position of each memory slot; the last slot is used by prompted frames.
        self.memory_temporal_encoding = nn.Parameter(torch.zeros(memory.num_maskmem, 1, 1, memory.memory_dim))
        self.no_memory_pos_enc = nn.Parameter(torch.zeros(1, 1, hidden))
        self.no_object_pointer = nn.Parameter(torch.zeros(1, hidden))
        if memory.use_no_object_spatial_embedding:
            self.no_object_spatial_embedding = nn.Parameter(torch.zeros(1, memory.memory_dim))
        self.post_init()

    def compile_for_tracking(self) -> "Sam2VideoModel":
        """Compile the image encoder, whose input never changes shape, with :func:`torch.compile`
        (in place; calling again changes nothing), as the reference's ``compile_image_encoder``
        does. The first frame waits for the compiler (20-60 s on a CPU). It pays off on GPUs; on
        a 2-core CPU it measured no faster in float32 and slower in bfloat16 (1.59 s against 1.23 s
        per frame). Memory attention is left eager: its memory grows over the first frames, and
        compiled it was compiled again for each new size (29 s per frame)."""
        if not getattr(self, "_compiled_for_tracking", False):
            self.vision_encoder.compile()
            self._compiled_for_tracking = True
        return self

    def start_session(self, video=None, **options):
        """Open a :class:`~sam2_hf.inference.VideoSession` on ``video`` (a video file, a folder of
        frames, a ``(T, H, W, 3)`` array, a list or iterable of frames; ``None`` for a live
        stream fed with ``push_frame``). ``options`` are the session's keyword arguments."""
        from ..inference.session import VideoSession  # the session drives the model, not the reverse

        return VideoSession(self, video, **options)

    # -- 1. the frame -----------------------------------------------------------------------

    def encode_frame(self, pixel_values: torch.Tensor) -> Sam2FrameFeatures:
        """Features of one preprocessed frame ``(1, 3, S, S)``."""
        levels = self.vision_encoder(pixel_values.to(self.device, self.dtype))
        embeddings = levels[-1]
        position = _sine_encoding(embeddings.shape[1], *embeddings.shape[-2:], embeddings.device).to(embeddings.dtype)
        return Sam2FrameFeatures(embeddings, tuple(self.mask_decoder.project_high_res_features(levels)), position)

    # -- 2. the memories it attends to ------------------------------------------------------

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
        memory_config = self.config.memory_config
        tokens, positions = [], []
        memory_pos = None
        for features, temporal_index in spatial_memories:
            if memory_pos is None:
                memory_pos = _sine_encoding(features.shape[1], *features.shape[-2:], features.device)[0].flatten(1).T
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

    # -- 3. the step -----------------------------------------------------------------------

    def track_step(
        self,
        features: Sam2FrameFeatures,
        memory: Sam2MemoryTokens | None,
        point_coords: torch.Tensor | None = None,
        point_labels: torch.Tensor | None = None,
        mask_inputs: torch.Tensor | None = None,
        previous_mask_logits: torch.Tensor | None = None,
        multimask_output: bool = False,
    ) -> Sam2TrackStepOutput:
        """Masks for ``N`` objects on one frame.

        Args:
            features: the frame's features, one row per object (:meth:`Sam2FrameFeatures.expand`).
            memory: tokens from :meth:`build_memory`; ``None`` on an object's first prompted frame,
                which gets the learned no-memory embedding instead.
            point_coords, point_labels: ``(N, P, 2)`` clicks in model-input pixels (boxes as two
                points labelled 2 and 3 first) and ``(N, P)`` labels.
            mask_inputs: ``(N, 1, S, S)`` binary mask prompt; its mask is returned as is.
            previous_mask_logits: ``(N, 1, 4h, 4w)`` logits of this frame from an earlier click,
                fed back as a dense prompt.
            multimask_output: predict three masks and keep the one with the best predicted IoU.
        """
        if mask_inputs is not None:
            return self._mask_as_output(features, mask_inputs)
        conditioned = self.condition_on_memory(features, memory)
        return self.decode_masks(conditioned, features.high_res_features, point_coords, point_labels,
                                 previous_mask_logits, multimask_output)

    def condition_on_memory(self, features: Sam2FrameFeatures, memory: Sam2MemoryTokens | None) -> torch.Tensor:
        """Image embeddings ``(N, C, h, w)`` after memory attention (or + no-memory embedding)."""
        embeddings = features.image_embeddings
        if memory is None:
            return embeddings + self.no_memory_embedding.reshape(1, -1, 1, 1)
        n, c, h, w = embeddings.shape
        position = features.position_encoding.flatten(2).transpose(1, 2).expand(n, -1, -1)
        conditioned = self.memory_attention(
            embeddings.flatten(2).transpose(1, 2), position, memory.tokens, memory.position, memory.num_pointer_tokens
        )
        return conditioned.transpose(1, 2).reshape(n, c, h, w)

    def decode_masks(
        self,
        embeddings: torch.Tensor,
        high_res_features: tuple[torch.Tensor, ...],
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        mask_logits: torch.Tensor | None,
        multimask_output: bool,
    ) -> Sam2TrackStepOutput:
        """The SAM heads on conditioned embeddings (:meth:`condition_on_memory`), as the video path
        uses them: a padding point stands in for absent clicks, absent objects get NO_OBJECT_SCORE
        masks and the learned no-object pointer. Training's corrective clicks decode again on the
        same conditioned embeddings, as SAM 2's training does."""
        n = embeddings.shape[0]
        if point_coords is None:
            point_coords = embeddings.new_zeros(n, 1, 2, dtype=torch.float32)
            point_labels = torch.full((n, 1), PADDING, dtype=torch.long, device=embeddings.device)
        if mask_logits is not None and mask_logits.shape[-1] != self.prompt_encoder.mask_input_size:
            size = self.prompt_encoder.mask_input_size
            mask_logits = F.interpolate(mask_logits.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        sparse, dense = self.prompt_encoder(
            point_coords, point_labels, None if mask_logits is None else mask_logits.to(self.dtype), batch_size=n
        )
        decoded = self.mask_decoder(
            image_embeddings=embeddings,
            image_pe=self.prompt_encoder.dense_position_encoding().to(embeddings.dtype),
            sparse_embeddings=sparse,
            dense_embeddings=dense.to(embeddings.dtype),
            multimask_output=multimask_output,
            high_res_features=list(high_res_features),
        )
        present = decoded.object_score_logits > 0
        masks = torch.where(present[:, None, None], decoded.masks, NO_OBJECT_SCORE).float()
        rows = torch.arange(n, device=masks.device)
        best = decoded.iou_scores.argmax(dim=-1) if multimask_output else torch.zeros_like(rows)
        low_res = masks[rows, best].unsqueeze(1)
        tokens = decoded.pointer_tokens
        token = tokens[rows, best] if tokens.shape[1] > 1 else tokens[:, 0]
        pointer = self._gate_pointer(self.object_pointer_proj(token), present.to(token.dtype))
        return Sam2TrackStepOutput(
            low_res_masks=low_res,
            high_res_masks=self.upsample_masks(low_res),
            iou_scores=decoded.iou_scores[rows, best].unsqueeze(1),
            object_pointer=pointer,
            object_score_logits=decoded.object_score_logits,
            candidate_masks=masks,
            candidate_iou_scores=decoded.iou_scores,
        )

    def _mask_as_output(self, features: Sam2FrameFeatures, mask_inputs: torch.Tensor) -> Sam2TrackStepOutput:
        """A mask prompt is taken as the answer; the decoder only supplies its object pointer."""
        masks = mask_inputs.float()
        high_res = masks * MASK_PROMPT_SCALE + MASK_PROMPT_BIAS
        low_res = F.interpolate(high_res, size=(high_res.shape[-2] // 4, high_res.shape[-1] // 4),
                                mode="bilinear", align_corners=False, antialias=True)
        decoded = self.decode_masks(features.image_embeddings, features.high_res_features, None, None,
                               self.mask_prompt_downsample(masks.to(self.dtype)), multimask_output=False)
        present = masks.flatten(1).gt(0).any(dim=1, keepdim=True).float()
        return Sam2TrackStepOutput(
            low_res_masks=low_res,
            high_res_masks=high_res,
            iou_scores=masks.new_ones(masks.shape[0], 1),
            object_pointer=self._gate_pointer(decoded.object_pointer, present.to(decoded.object_pointer.dtype)),
            object_score_logits=present * MASK_PROMPT_SCALE + MASK_PROMPT_BIAS,
        )

    def _gate_pointer(self, pointer: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Absent objects get the learned no-object pointer."""
        return present * pointer + (1 - present) * self.no_object_pointer

    def upsample_masks(self, low_res: torch.Tensor) -> torch.Tensor:
        """Low-res logits ``(N, 1, 4h, 4w)`` -> ``(N, 1, S, S)`` as the memory encoder expects."""
        size = self.config.image_size
        return F.interpolate(low_res, size=(size, size), mode="bilinear", align_corners=False)

    # -- 4. the new memory -----------------------------------------------------------------------

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
        memory_config = self.config.memory_config
        masks = (high_res_masks > 0).float() if binarize else torch.sigmoid(high_res_masks.float())
        masks = masks * memory_config.sigmoid_scale + memory_config.sigmoid_bias
        memory, _ = self.memory_encoder(features.image_embeddings, masks.to(self.dtype), apply_sigmoid=False)
        if memory_config.use_no_object_spatial_embedding:
            absent = (object_score_logits <= 0).to(memory.dtype)[..., None, None]
            memory = memory + absent * self.no_object_spatial_embedding[..., None, None]
        return memory


@lru_cache(maxsize=8)
def _sine_encoding_cached(channels: int, height: int, width: int, device: str) -> torch.Tensor:
    with torch.inference_mode(False):  # usable by autograd even when first made while tracking
        return sine_position_encoding(channels, height, width, device=torch.device(device))[None]


def _sine_encoding(channels: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """The 2-D sine encoding of a feature grid, computed once per shape and device."""
    return _sine_encoding_cached(channels, height, width, str(device))


def _sine_1d(positions: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """1-D sine/cosine encoding ``(P, dim)`` of (normalised) positions ``(P,)``."""
    half = dim // 2
    dim_t = torch.arange(half, dtype=torch.float32, device=positions.device)
    dim_t = temperature ** (2 * (dim_t // 2) / half)
    angles = positions[:, None] / dim_t
    return torch.cat([angles.sin(), angles.cos()], dim=-1)
