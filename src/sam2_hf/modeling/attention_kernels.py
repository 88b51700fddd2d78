"""Scaled dot-product attention, with a blocked matmul path for the CPU inference that PyTorch's
fused kernel does slowly or not at all.

1. Values narrower than the heads. SAM 2's memory cross-attention weights 64-channel memories
   and projects the result to 256 channels (see ``RoPEAttention``), a 4x cheaper weighted sum than
   projecting every memory first; PyTorch's fused CPU kernel needs values as wide as the queries,
   so float32 CPU inference takes the blocked path there (hiera-tiny memory attention on two Xeon
   cores, 5 memories: 1.75 -> 1.60 s with one object, 5.40 -> 4.64 s with three).
2. Reduced precision without matrix units. On a CPU without bfloat16 matrix units the fused
   kernel runs at about the float32 matmul rate (2-core AVX-512 EPYC: ~170 GFLOP/s for SAM 2's
   memory attention) and gains almost nothing in bfloat16, while bfloat16 matmuls run 2-3x
   faster; so bfloat16 and float16 CPU inference take the blocked path there. With Intel AMX
   tiles the fused kernel uses them (2-core Xeon, bfloat16 memory cross-attention: 1,110 GFLOP/s
   against 541 blocked), so bfloat16 keeps PyTorch's kernel on such CPUs, narrow values or not.

The blocked path is matmul -> softmax -> matmul over blocks of queries, small enough that a
block's scores stay in cache; the softmax accumulates in float32, reduced-precision inputs and
outputs are rounded. Training, dropout and other devices always keep PyTorch's kernel (the flash
kernels on CUDA are the fast path there).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import cpu_features

# Elements of one block of attention scores (8 MiB in float32, ~100 queries against the 20k
# keys of a full memory bank): fast float32 blocks measured at 1.5-3M elements, 2x slower at 16M.
SCORE_BLOCK_ELEMENTS = 2 * 1024 * 1024


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d)) v`` for ``(..., N, d)`` queries, ``(..., M, d)`` keys and
    ``(..., M, e)`` values (``e`` may differ from ``d``)."""
    if uses_blocked_attention(q, dropout_p, v.shape[-1]):
        return blocked_attention(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)


def uses_blocked_attention(q: torch.Tensor, dropout_p: float = 0.0, value_dim: int | None = None) -> bool:
    """Reduced-precision CPU inference (no dropout, no autograd) takes the blocked matmul path,
    but for bfloat16 on a CPU whose matrix units PyTorch's own kernel uses; so does any CPU
    inference whose values are narrower than its queries (``value_dim``), which the fused kernel
    cannot take."""
    if q.device.type != "cpu" or dropout_p or (torch.is_grad_enabled() and q.requires_grad):
        return False
    reduced = q.dtype == torch.float16 or (q.dtype == torch.bfloat16 and not cpu_features.cpu_has_bfloat16_matrix_units())
    narrow_values = q.dtype == torch.float32 and value_dim is not None and value_dim < q.shape[-1]
    return reduced or narrow_values


def blocked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention as matmul -> softmax -> matmul, one attention map and a block of its queries at
    a time (one dtype for all three), so a block's scores stay in cache."""
    num_queries, num_keys = q.shape[-2], k.shape[-2]
    block = max(1, min(num_queries, SCORE_BLOCK_ELEMENTS // max(1, num_keys)))
    scale = q.shape[-1] ** -0.5
    batch_shape = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    queries = q.expand(*batch_shape, -1, -1).flatten(0, -3)
    keys = k.expand(*batch_shape, -1, -1).flatten(0, -3)
    values = v.expand(*batch_shape, -1, -1).flatten(0, -3)
    out = q.new_empty(queries.shape[0], num_queries, v.shape[-1])
    for index in range(queries.shape[0]):
        for start in range(0, num_queries, block):
            scores = torch.matmul(queries[index, start : start + block] * scale, keys[index].T)
            torch.matmul(torch.softmax(scores, dim=-1), values[index], out=out[index, start : start + block])
    return out.view(*batch_shape, num_queries, v.shape[-1])
