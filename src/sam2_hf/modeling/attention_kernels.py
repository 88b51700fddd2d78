"""Scaled dot-product attention, with a faster path for reduced-precision CPU inference where
PyTorch's fused kernel is slow.

On a CPU without bfloat16 matrix units, PyTorch's fused attention kernel runs at about the
float32 matmul rate (measured on a 2-core AVX-512 EPYC: ~170 GFLOP/s for SAM 2's memory
attention) but gains almost nothing in bfloat16, while bfloat16 matmuls run 2-3x faster than
float32 ones there. In bfloat16 (and float16) CPU inference on such machines, attention is
therefore written as two matmuls around a softmax, over blocks of queries so the score matrix
stays small; the softmax kernel accumulates in float32, only its inputs and outputs are rounded.
On a CPU with Intel AMX tiles the fused kernel uses them: on a 2-core Xeon, 1,110 GFLOP/s for
the memory cross-attention in bfloat16 against 541 for the blocked path (a tracked frame of
hiera-tiny with one object: 1.36 s against 2.0 s), so bfloat16 keeps PyTorch's kernel there.
Float32, training, dropout and other devices always keep PyTorch's kernel (the flash kernels on
CUDA are the fast path there).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

# Elements of one block of attention scores (64 MiB in float32): bounds the extra memory.
SCORE_BLOCK_ELEMENTS = 16 * 1024 * 1024


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d)) v`` for ``(..., N, d)`` queries, ``(..., M, d)`` keys and
    ``(..., M, e)`` values (``e`` may differ from ``d``)."""
    if uses_blocked_attention(q, dropout_p):
        return blocked_attention(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)


def uses_blocked_attention(q: torch.Tensor, dropout_p: float = 0.0) -> bool:
    """Reduced-precision CPU inference (no dropout, no autograd) takes the blocked matmul path,
    but for bfloat16 on a CPU whose matrix units PyTorch's own kernel uses."""
    reduced = q.dtype == torch.float16 or (q.dtype == torch.bfloat16 and not cpu_has_bfloat16_matrix_units())
    return (q.device.type == "cpu" and reduced and dropout_p == 0
            and not (torch.is_grad_enabled() and q.requires_grad))


@functools.lru_cache(maxsize=1)
def cpu_has_bfloat16_matrix_units() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in AMX tiles (the ``amx_bf16`` flag of
    Linux's ``/proc/cpuinfo``; False where that file is missing)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split()
    except OSError:
        pass
    return False


def blocked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention as matmul -> softmax -> matmul, a block of queries at a time (one dtype for all three)."""
    num_queries, num_keys = q.shape[-2], k.shape[-2]
    batch = q[..., 0, 0].numel()
    block = max(1, min(num_queries, SCORE_BLOCK_ELEMENTS // max(1, batch * num_keys)))
    scale = q.shape[-1] ** -0.5
    keys_t = k.transpose(-1, -2).contiguous()  # once, not once per block
    out = q.new_empty(*q.shape[:-1], v.shape[-1])
    for start in range(0, num_queries, block):
        scores = torch.matmul(q[..., start : start + block, :] * scale, keys_t)
        out[..., start : start + block, :] = torch.matmul(torch.softmax(scores, dim=-1), v)
    return out
