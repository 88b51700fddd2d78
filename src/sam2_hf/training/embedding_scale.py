"""Keep the image embedding at the scale the memory and the prompts can be heard at.

SAM 2 adds everything that makes a frame's embedding about *one* object to the image embedding:
the mask prompt's dense embedding and the no-memory embedding on prompted frames, the memory
read-out (a residual on top of it, in a pre-norm transformer) on tracked frames, and in the
memory encoder the mask features next to the projected image features. Nothing in the
architecture normalises the image embedding itself. Trained on CPU from scratch, the shipped
small model's embedding grew while its memory was still unhelpful, which silenced the memory
further: per-value RMS 0.70 at initialisation, 22.6 when first shipped, 43.7 and then 76.7
after two more runs. At 76.7 the three objects of a clip got the same memory (0.03% apart), the
same object pointer (0.005% apart) and the same mask on every tracked frame, even on a video
whose frames were all the same. The mask decoder had adapted too: its two-way transformer adds
token updates to the image tokens and normalises, and updates sized against a 77-RMS embedding
wiped out the RMS-1 memory-conditioned embedding of tracked frames (its image tokens came out
98% the same with that embedding zeroed), so tracked frames were segmented from the
high-resolution features alone.

:func:`set_image_embedding_rms` brings it back: the feature-pyramid convolutions that make that
level (its own and the deeper ones added top-down) are scaled down, the memory encoder's
projection of it scaled up and the decoder's image-to-token updates down to match. Train with
the image encoder frozen after it: rescaled again before every step instead, the embedding grew
back by ~30% a step (AdamW moves weights by about the learning rate whatever their size, and the
scaled-down convolutions were small), and the compensating projection grew without bound.
"""

from __future__ import annotations

import torch

from ..modeling.video_model import Sam2VideoModel


@torch.no_grad()
def image_embedding_rms(model: Sam2VideoModel, pixel_values: torch.Tensor) -> float:
    """Root mean square of the image embedding (the lowest-resolution level kept) of preprocessed
    frames ``(B, 3, S, S)``."""
    levels = model.vision_encoder(pixel_values.to(model.device, model.dtype))
    return float(levels[-1].float().pow(2).mean().sqrt())


def embedding_lateral_convs(model: Sam2VideoModel) -> list[torch.nn.Conv2d]:
    """The neck's 1x1 convolutions whose outputs sum to the image embedding: its level's own and,
    through the top-down path, the deeper levels'. Raises if a higher-resolution level also
    receives the embedding top-down (no released configuration does), since scaling would change
    it too."""
    neck, config = model.vision_encoder.neck, model.config.vision_config
    deepest = len(neck.lateral_convs) - 1
    level = model.vision_encoder.num_feature_levels - 1
    if any(lower in neck.top_down_levels for lower in range(level)):
        raise ValueError(f"fpn_top_down_levels {list(config.fpn_top_down_levels)} pass the image embedding on to "
                         "higher-resolution levels; its scale cannot be changed alone")
    levels = [level]
    while levels[-1] in neck.top_down_levels and levels[-1] < deepest:
        levels.append(levels[-1] + 1)
    return [neck.lateral_convs[deepest - index] for index in levels]


@torch.no_grad()
def rescale_image_embedding(model: Sam2VideoModel, factor: float) -> None:
    """Multiply the image embedding by ``factor`` (in place), with two compensations: the memory
    encoder's projection of it divided by ``factor``, so memories of the same masks stay the
    same; and the mask decoder's image-to-token updates multiplied by it, so the image stream of
    its two-way transformer keeps its proportion to them (each layer adds them to the image
    tokens, then normalises; being weighted sums of token values, their size does not follow the
    image tokens')."""
    for conv in embedding_lateral_convs(model):
        conv.weight.mul_(factor)
        conv.bias.mul_(factor)
    model.memory_encoder.feature_projection.weight.div_(factor)
    for layer in model.mask_decoder.transformer.layers:
        layer.cross_attn_image_to_token.out_proj.weight.mul_(factor)
        layer.cross_attn_image_to_token.out_proj.bias.mul_(factor)


def set_image_embedding_rms(model: Sam2VideoModel, pixel_values: torch.Tensor, target_rms: float) -> float:
    """Scale ``model``'s image embedding so that frames ``pixel_values`` measure ``target_rms``;
    returns the factor applied."""
    if target_rms <= 0:
        raise ValueError(f"the image embedding's RMS must be positive, got {target_rms}")
    factor = target_rms / image_embedding_rms(model, pixel_values)
    rescale_image_embedding(model, factor)
    return factor
