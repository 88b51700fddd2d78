"""The CPU fast paths of attention against PyTorch's kernel and against the plain layer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sam2_hf.configuration import Sam2MemoryConfig
from sam2_hf.modeling import attention_kernels, cpu_features, memory_attention
from sam2_hf.modeling.attention_kernels import blocked_attention, scaled_dot_product_attention
from sam2_hf.modeling.memory_attention import RoPEAttention


@pytest.mark.parametrize("value_dim", [16, 24])
def test_blocked_attention_equals_pytorch_kernel(monkeypatch, value_dim):
    monkeypatch.setattr(attention_kernels, "SCORE_BLOCK_ELEMENTS", 2 * 3 * 40 * 7)  # several blocks, last one short
    q, k = torch.randn(2, 3, 50, 16) * 3, torch.randn(2, 3, 40, 16) * 3
    v = torch.randn(2, 3, 40, value_dim)
    expected = torch.softmax(q @ k.transpose(-1, -2) / 4, dim=-1) @ v
    torch.testing.assert_close(blocked_attention(q, k, v), expected, rtol=0, atol=1e-5)
    if value_dim == 16:
        torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v), expected, rtol=0, atol=1e-5)


def test_dispatch_keeps_pytorch_kernel_for_training(monkeypatch):
    monkeypatch.setattr(cpu_features, "cpu_has_bfloat16_matrix_units", lambda: False)
    q = torch.randn(1, 1, 6, 8, requires_grad=True)
    k, v = torch.randn(1, 1, 5, 8), torch.randn(1, 1, 5, 8)
    out = scaled_dot_product_attention(q, k, v)
    assert out.grad_fn is not None and "ScaledDotProduct" in type(out.grad_fn).__name__
    with torch.no_grad():
        assert not attention_kernels.uses_blocked_attention(q)  # float32: PyTorch's kernel is as fast
        assert attention_kernels.uses_blocked_attention(q, value_dim=4)  # but needs values as wide as q
        assert not attention_kernels.uses_blocked_attention(q, value_dim=8)
        assert attention_kernels.uses_blocked_attention(q.bfloat16())
        assert attention_kernels.uses_blocked_attention(q.half())
        assert not attention_kernels.uses_blocked_attention(q.bfloat16(), dropout_p=0.1)
    assert not attention_kernels.uses_blocked_attention(q.bfloat16())
    assert not attention_kernels.uses_blocked_attention(q, value_dim=4)


def test_dispatch_keeps_pytorch_kernel_for_bfloat16_on_matrix_units(monkeypatch):
    """With AMX tiles PyTorch's fused kernel is twice as fast as the blocked path in bfloat16."""
    monkeypatch.setattr(cpu_features, "cpu_has_bfloat16_matrix_units", lambda: True)
    q = torch.randn(1, 1, 6, 8)
    with torch.no_grad():
        assert not attention_kernels.uses_blocked_attention(q.bfloat16())
        assert not attention_kernels.uses_blocked_attention(q.bfloat16(), value_dim=4)
        assert attention_kernels.uses_blocked_attention(q.half())


def test_bfloat16_blocked_attention_stays_close():
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 1, 64, 32), torch.randn(1, 1, 300, 32), torch.randn(1, 1, 300, 32)
    exact = blocked_attention(q, k, v)
    fast = blocked_attention(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert fast.dtype == torch.bfloat16
    assert (fast.float() - exact).abs().max() < 0.03


@pytest.mark.parametrize("num_heads", [1, 2])
@pytest.mark.parametrize("shared_queries", [False, True])
def test_memory_cross_attention_projects_values_after_attending(monkeypatch, num_heads, shared_queries):
    """The fast path (raw 8-channel memories weighted one object at a time, then projected), which
    float32 CPU inference takes by itself, equals PyTorch's kernel over every memory projected to
    the 32-wide heads first; closely in bfloat16. Queries may be one frame's, shared by the objects."""
    torch.manual_seed(0)
    config = Sam2MemoryConfig(memory_dim=8, num_attention_heads=num_heads)
    layer = RoPEAttention(32, num_heads, kv_dim=8, theta=config.rope_theta).eval()
    queries = torch.randn(1 if shared_queries else 3, 16, 32)  # a 4x4 grid
    memory = torch.randn(3, 2 * 16 + 4, 8)  # two frames of spatial memory + 4 pointer tokens
    with torch.no_grad():
        assert memory_attention.uses_blocked_attention(queries[:, None], value_dim=8)
        fast = layer(queries, memory, memory, num_rope_exempt_keys=4)
        with monkeypatch.context() as patch:
            patch.setattr(memory_attention, "uses_blocked_attention", lambda q, value_dim: False)
            plain = layer(queries, memory, memory, num_rope_exempt_keys=4)
        assert fast.shape == plain.shape == (3, 16, 32)
        torch.testing.assert_close(fast, plain, rtol=0, atol=2e-6)
        half = layer.bfloat16()(queries.bfloat16(), memory.bfloat16(), memory.bfloat16(), num_rope_exempt_keys=4)
    assert half.dtype == torch.bfloat16
    assert (half.float() - plain).abs().max() < 0.05 * plain.abs().max()
