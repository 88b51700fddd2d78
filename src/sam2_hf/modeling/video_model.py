"""Sam2VideoModel: the image model plus the memory that lets it track objects through a video.

The model is stateless. One tracked frame is three calls, each on a batch of ``N`` objects:

1. :meth:`Sam2VideoModel.encode_frame` once per frame (shared by all objects);
2. :meth:`Sam2VideoModel.track_step` with the memories the caller chose for these objects
   (:meth:`build_memory` turns past frames' memories and object pointers into attention tokens;
   it and :meth:`encode_memory` are the memory's own steps, shared with :class:`Sam2MemoryModel`),
   returning masks, scores and the object pointer;
3. :meth:`Sam2VideoModel.encode_memory` to turn the frame's mask into a memory for later frames.

Which past frames each object attends to is decided by the inference session
(:class:`sam2_hf.VideoSession`, opened as ``VideoSession(model, video)``), which holds all
per-video state; the model knows nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .layers import feature_map_position_encoding
from .memory_model import MemorySteps, Sam2MemoryModel
from .mask_decoder_model import Sam2MaskDecoderModel
from .outputs import Sam2FrameFeatures, Sam2MemoryTokens
from .prompt_encoder import PADDING
from .sam2_model import Sam2Model
from .vision_encoder import Sam2VisionModel

NO_OBJECT_SCORE = -1024.0  # mask logit given to every pixel of an absent object
MASK_PROMPT_SCALE, MASK_PROMPT_BIAS = 20.0, -10.0  # binary mask -> logits (sigmoid(-10) ~ 0)


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


class Sam2VideoModel(MemorySteps, Sam2Model):
    """:class:`Sam2Model` with the memory of SAM 2's video path: built from
    :class:`~sam2_hf.Sam2VisionModel`, :class:`~sam2_hf.Sam2MaskDecoderModel` and
    :class:`~sam2_hf.Sam2MemoryModel`."""

    part_classes = (Sam2VisionModel, Sam2MaskDecoderModel, Sam2MemoryModel)
    _keys_to_ignore_on_load_unexpected = None

    @property
    def memory_settings(self):
        return self.config.memory_config

    @property
    def memory_model(self) -> Sam2MemoryModel:
        """The memory as a :class:`~sam2_hf.Sam2MemoryModel` sharing this model's tensors."""
        return Sam2MemoryModel.view_of(self)

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

    # -- 1. the frame -----------------------------------------------------------------------

    def encode_frame(self, pixel_values: torch.Tensor) -> Sam2FrameFeatures:
        """Features of one preprocessed frame ``(1, 3, S, S)``."""
        projections = self.mask_decoder.high_res_projections()
        levels = self.vision_encoder(pixel_values.to(self.device, self.dtype), projections)
        embeddings = levels[-1]
        position = feature_map_position_encoding(embeddings.shape[1], *embeddings.shape[-2:], embeddings.device).to(embeddings.dtype)
        return Sam2FrameFeatures(embeddings, tuple(levels[: len(projections)]), position)

    # -- 2. the memories it attends to: build_memory, from MemorySteps -----------------------

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
        if memory is None:
            return features.image_embeddings + self.no_memory_embedding.reshape(1, -1, 1, 1)
        return self.attend_to_memory(features.image_embeddings, features.position_encoding, memory)

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

    # -- 4. the new memory: encode_memory, from MemorySteps --------------------------------------
