"""Weights stored in the dtype autocast computes in, so it stops casting them on every call."""

from __future__ import annotations

import copy

import torch
from torch import nn

# The layers whose weights autocast casts to its lower precision (CPU and CUDA alike).
MATMUL_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)


def with_matmul_weights_in(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """A copy of ``model`` whose linear and convolution weights and biases are stored in ``dtype``,
    everything else (norms, embeddings, the model's ``dtype``) as it was.

    Under ``torch.autocast(dtype=dtype)`` these layers compute in ``dtype`` anyway, but autocast
    casts their float32 weights again on every call: its cast cache lives only as long as one
    ``autocast`` block, and a video session opens one per call. On the 1024-px image encoder of
    hiera-tiny those casts were 13% of a bfloat16 call on a CPU. Run under the same autocast, the
    copy gives bit-for-bit the results of the float32 model.
    """
    low_precision = copy.deepcopy(model)
    for module in low_precision.modules():
        if isinstance(module, MATMUL_LAYERS):
            module.to(dtype)
    return low_precision


def has_float32_matmul_weights(model: nn.Module) -> bool:
    """Whether some linear or convolution layer of ``model`` keeps float32 weights."""
    return any(isinstance(m, MATMUL_LAYERS) and m.weight.dtype == torch.float32 for m in model.modules())
