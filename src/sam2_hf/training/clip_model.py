"""One training example: a short clip, tracked the way the video session tracks, with losses.

The first frame gets a simulated prompt (a mask, a click or a box) for every object, which
corrective clicks may refine (as a user refines a first mask before tracking); each later frame is
segmented from the memories of the frames before it, using the same memory-selection rules as
:class:`~sam2_hf.VideoSession`; on a few random frames simulated corrective clicks refine the
prediction step by step and the frame then counts as prompted. Gradients flow through the whole
clip, memories included, as in SAM 2's training.

Trained from scratch, a small model settles early on segmenting every object at once and then
hardly learns to pick the one under the click: telling objects apart needs an image encoder that
can, and an attention that looks where the click is, and neither grows while the other is missing.
The *prompt-routing* step breaks that tie: on frame 0 only, the image features are replaced by
codes that say which object each cell belongs to (a random vector per object and one for the
background, new every step), so the decoder and prompt encoder can only lower the loss by
following the prompt. A few thousand of these cheap steps first, and real training then keeps
the prompts in use.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..inference.memory_bank import select_object_pointers, select_spatial_memories
from ..modeling.layers import sine_position_encoding
from ..modeling.outputs import Sam2FrameFeatures
from ..modeling.video_model import Sam2TrackStepOutput, Sam2VideoModel
from .losses import LossWeights, frame_loss
from .prompts import PromptMix, correction_clicks, first_frame_points


class ClipTrainingModel(nn.Module):
    """Wraps :class:`~sam2_hf.Sam2VideoModel` so that a clip's losses are one ``forward`` (what
    distributed data-parallel training needs).

    Args:
        model: the video model being trained.
        prompt_mix: first-frame prompt kinds and their probabilities.
        num_correction_frames: later frames of each clip that get corrective clicks.
        correction_clicks: clicks per corrected frame, each on the error left by the last.
        loss_weights: SAM 2's loss weights.
        first_frame_correction_clicks: after a click or box prompt, frame 0 gets between 0 and
            this many corrective clicks (drawn per clip), each on the error left by the last; its
            memory is made from the last mask. Evaluation's 3- and 5-click protocols are such
            clicks, and a model never trained on them got worse with each one.
    """

    def __init__(self, model: Sam2VideoModel, prompt_mix: PromptMix | None = None, num_correction_frames: int = 2,
                 correction_clicks: int = 3, loss_weights: LossWeights | None = None,
                 first_frame_correction_clicks: int = 0) -> None:
        super().__init__()
        self.model = model
        self.prompt_mix = prompt_mix or PromptMix()
        self.num_correction_frames = num_correction_frames
        self.correction_clicks = correction_clicks
        self.loss_weights = loss_weights or LossWeights()
        self.first_frame_correction_clicks = first_frame_correction_clicks

    def forward(self, pixel_values: torch.Tensor, targets: torch.Tensor, seed: int,
                prompt_routing: bool = False) -> dict[str, torch.Tensor]:
        """Losses of one clip, averaged over its supervised predictions.

        Args:
            pixel_values: ``(T, 3, S, S)`` preprocessed frames.
            targets: ``(T, N, S, S)`` masks of ``N`` objects, all visible on frame 0.
            seed: seeds the simulated prompts, so a step is reproducible.
            prompt_routing: instead, the prompt-routing step on frame 0 (see the module's notes).
        """
        model, config = self.model, self.model.config.memory_config
        rng = np.random.default_rng(seed)
        if prompt_routing:
            return self._prompt_routing_step(targets[0].to(model.device).float(), rng, seed)
        num_frames, num_objects = targets.shape[:2]
        device = model.device
        targets = targets.to(device).float()
        kind = self.prompt_mix.sample(rng)
        later = np.arange(1, num_frames)
        corrected = set(rng.choice(later, size=min(self.num_correction_frames, len(later)), replace=False).tolist())
        first_frame_clicks = 0  # drawn only when asked for: older runs' clips and prompts stay as they were
        if self.first_frame_correction_clicks and kind != "mask":
            first_frame_clicks = int(rng.integers(self.first_frame_correction_clicks + 1))
        memories: dict[int, torch.Tensor] = {}
        pointers: dict[int, torch.Tensor] = {}
        conditioning: list[int] = []
        tracked: set[int] = set()
        losses: list[dict[str, torch.Tensor]] = []
        for t in range(num_frames):
            features = model.encode_frame(pixel_values[t : t + 1].to(device)).expand(num_objects)
            if t == 0:
                if kind == "mask":
                    outputs = [model.track_step(features, None, mask_inputs=targets[0][:, None])]
                else:
                    conditioned = model.condition_on_memory(features, None)
                    coords, labels = first_frame_points(kind, targets[0].cpu(), rng)
                    outputs = [self._decode_prompt(conditioned, features, coords, labels)]
                    self._correct(outputs, conditioned, features, targets[0], coords, labels, first_frame_clicks, rng,
                                  from_memory=False)
            else:
                spatial = select_spatial_memories(t, conditioning, tracked, config.num_maskmem, reverse=False)
                selected, max_distance = select_object_pointers(t, conditioning, tracked, False, config.max_object_pointers,
                                                                num_frames, config.signed_temporal_encoding)
                memory = model.build_memory([(memories[f], index) for f, index in spatial],
                                            [(pointers[f], distance) for f, distance in selected], max_distance)
                conditioned = model.condition_on_memory(features, memory)
                outputs = [model.decode_masks(conditioned, features.high_res_features, None, None, None,
                                              config.multimask_output(0, from_memory=True))]
                if t in corrected:
                    no_clicks = torch.zeros(num_objects, 0, 2), torch.zeros(num_objects, 0, dtype=torch.long)
                    self._correct(outputs, conditioned, features, targets[t], *no_clicks, self.correction_clicks, rng,
                                  from_memory=True)
            losses += [self._loss(out, targets[t]) for out in outputs if out.candidate_masks is not None]
            final = outputs[-1]
            prompted = t == 0 or t in corrected
            memories[t] = model.encode_memory(features, final.high_res_masks, final.object_score_logits, binarize=prompted)
            pointers[t] = final.object_pointer
            if prompted:
                conditioning.append(t)
            else:
                tracked.add(t)
        return {name: torch.stack([loss[name] for loss in losses]).mean() for name in losses[0]}

    def _prompt_routing_step(self, targets: torch.Tensor, rng: np.random.Generator, seed: int) -> dict[str, torch.Tensor]:
        kind = "box" if self.prompt_mix.sample(rng) == "box" else "click"  # a mask prompt needs no routing
        features = object_code_features(self.model, targets, torch.Generator().manual_seed(seed))
        coords, labels = first_frame_points(kind, targets.cpu(), rng)
        return self._loss(self._decode_prompt(self.model.condition_on_memory(features, None), features, coords, labels), targets)

    def _decode_prompt(self, conditioned: torch.Tensor, features: Sam2FrameFeatures, coords: torch.Tensor,
                       labels: torch.Tensor) -> Sam2TrackStepOutput:
        """Frame 0's masks from the first click or box, three candidates for one click as the
        session predicts them."""
        model = self.model
        return model.decode_masks(conditioned, features.high_res_features, coords.to(model.device), labels.to(model.device),
                                  None, model.config.memory_config.multimask_output(coords.shape[1]))

    def _correct(self, outputs: list[Sam2TrackStepOutput], conditioned: torch.Tensor, features: Sam2FrameFeatures,
                 targets: torch.Tensor, coords: torch.Tensor, labels: torch.Tensor, num_clicks: int,
                 rng: np.random.Generator, from_memory: bool) -> None:
        """Append to ``outputs`` the masks after each of ``num_clicks`` simulated clicks, each on the
        error left by the last mask and decoded with every click so far (``coords``, ``labels``)
        and the last mask's logits, from the same conditioned features: what the session does
        with a user's clicks on one frame, three candidates where it asks for them (the first
        click on a tracked frame, ``from_memory``)."""
        model = self.model
        for _ in range(num_clicks):
            predicted = model.upsample_masks(outputs[-1].low_res_masks.detach())[:, 0] > 0
            new_coords, new_labels = correction_clicks(predicted.cpu(), targets.cpu(), rng)
            coords, labels = torch.cat([coords, new_coords], 1), torch.cat([labels, new_labels], 1)
            multimask = model.config.memory_config.multimask_output(coords.shape[1], from_memory)
            outputs.append(model.decode_masks(conditioned, features.high_res_features, coords.to(model.device),
                                              labels.to(model.device), outputs[-1].low_res_masks, multimask))

    def _loss(self, output: Sam2TrackStepOutput, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        size = targets.shape[-1]
        candidates = F.interpolate(output.candidate_masks, size=(size, size), mode="bilinear", align_corners=False)
        return frame_loss(candidates, output.candidate_iou_scores, output.object_score_logits, targets, self.loss_weights)


def object_code_features(model: Sam2VideoModel, targets: torch.Tensor, generator: torch.Generator) -> Sam2FrameFeatures:
    """Frame features for ``N`` objects' ``(N, S, S)`` masks where each embedding cell holds the
    mean of its pixels' codes: one random vector per object, one for the background (high-
    resolution levels zero). Which object a cell shows is all they say."""
    hidden = model.config.mask_decoder_config.hidden_size
    size = model.config.image_embedding_size
    codes = torch.randn(len(targets) + 1, hidden, generator=generator).to(targets.device, model.dtype)
    owner = torch.zeros(targets.shape[-2:], dtype=torch.long, device=targets.device)
    for index, mask in enumerate(targets > 0.5, start=1):
        owner[mask] = index
    embedding = F.adaptive_avg_pool2d(codes[owner].permute(2, 0, 1)[None], size)
    high_res = ()
    if model.config.mask_decoder_config.use_high_res_features:  # the FPN levels at strides 4 and 8
        decoder, image_size = model.mask_decoder, model.config.image_size
        high_res = (embedding.new_zeros(1, decoder.conv_s0.out_channels, image_size // 4, image_size // 4),
                    embedding.new_zeros(1, decoder.conv_s1.out_channels, image_size // 8, image_size // 8))
    position = sine_position_encoding(hidden, size, size, device=embedding.device)[None].to(embedding.dtype)
    return Sam2FrameFeatures(embedding, high_res, position).expand(len(targets))
