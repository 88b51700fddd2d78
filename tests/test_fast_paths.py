"""Inference shortcuts (issue 22) give the numbers of the plain computation they replace.

Each shortcut is checked against the computation written out the long way, or against the same
model run where the shortcut does not apply (with gradients on, or on unshared inputs)."""

from __future__ import annotations

import numpy as np
import torch

from sam2_hf import Sam2VideoModel
from sam2_hf.modeling import layers
from sam2_hf.modeling.memory_attention import apply_rope, apply_rope_, axial_rope_angles
from sam2_hf.modeling.outputs import Sam2MemoryTokens

from .conftest import make_objects_visible, tiny_config


def _model() -> Sam2VideoModel:
    torch.manual_seed(0)
    return make_objects_visible(Sam2VideoModel(tiny_config()).eval())


def test_rotary_encoding_turns_each_channel_pair_by_its_angle():
    torch.manual_seed(0)
    angles = axial_rope_angles(8, 3, 3, theta=10.0)  # (9 positions, 4 pairs)
    rotations = torch.polar(torch.ones_like(angles), angles)
    x = torch.randn(2, 1, 27, 8)  # three frames of the same 9 positions
    even, odd = x[..., 0::2], x[..., 1::2]
    cos, sin = angles.cos().repeat(3, 1), angles.sin().repeat(3, 1)
    expected = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)
    torch.testing.assert_close(apply_rope(x, rotations), expected)
    in_place = x.clone()
    assert apply_rope_(in_place, rotations) is in_place
    torch.testing.assert_close(in_place, expected)


def test_memory_keys_rotated_in_place_equal_the_training_path():
    """Inference rotates the fresh key projection where it lies; with gradients a copy is made
    (autograd needs the unrotated tensor). Both give the same queries and keys."""
    model = _model()
    attention = model.memory_attention.layers[0].cross_attn_image
    torch.manual_seed(1)
    queries, memory = torch.randn(2, 64, 32), torch.randn(2, 3 * 64 + 4, 16)  # 3 frames + 4 pointer tokens
    with torch.inference_mode():
        q_fast, k_fast = attention.rotated_queries_and_keys(queries, memory, num_rope_exempt_keys=4)
    q, k = attention.rotated_queries_and_keys(queries, memory, num_rope_exempt_keys=4)
    assert k.requires_grad
    torch.testing.assert_close(q_fast, q.detach())
    torch.testing.assert_close(k_fast, k.detach())
    # pointer tokens are not rotated: they equal the plain projection
    plain = attention.split_heads(attention.k_proj(memory)).detach()
    torch.testing.assert_close(k_fast[:, :, -4:], plain[:, :, -4:])
    assert not torch.allclose(k_fast[:, :, :-4], plain[:, :, :-4])


def test_token_chunks_cover_every_token_once_and_only_without_gradients(monkeypatch):
    monkeypatch.setattr(layers, "CPU_CHUNK_TOKENS", 4)
    sizes = []

    def double(x):
        sizes.append(x.shape[:-1].numel())
        return torch.cat([x, x], dim=-1)

    x = torch.arange(30.0).reshape(2, 5, 3)
    with torch.no_grad():
        out = layers.in_token_chunks(double, x)
    assert sizes == [4, 4, 2]
    torch.testing.assert_close(out, torch.cat([x, x], dim=-1))
    sizes.clear()
    layers.in_token_chunks(double, x.requires_grad_())
    assert sizes == [10]


def test_chunked_model_gives_the_unchunked_features_memory_attention_and_memory(monkeypatch):
    """The tiny model's grids are small, so chunks of 50 tokens exercise every chunked MLP
    (Hiera blocks, memory attention, the memory encoder's fuser) on a real forward pass."""
    model = _model()
    torch.manual_seed(2)
    pixels = torch.randn(1, 3, 128, 128)
    memory = Sam2MemoryTokens(torch.randn(2, 2 * 64, 16), torch.randn(2, 2 * 64, 16), 0)
    mask_logits, object_scores = torch.randn(2, 1, 128, 128), torch.ones(2, 1)

    def run():
        features = model.encode_frame(pixels)
        attended = model.attend_to_memory(features.image_embeddings.repeat(2, 1, 1, 1), features.position_encoding, memory)
        return features, attended, model.encode_memory(features.expand(2), mask_logits, object_scores, binarize=False)

    with torch.no_grad():
        features, whole, new_memory = run()
        monkeypatch.setattr(layers, "CPU_CHUNK_TOKENS", 50)
        chunked_features, chunked, chunked_memory = run()
    torch.testing.assert_close(chunked_features.image_embeddings, features.image_embeddings)
    torch.testing.assert_close(chunked, whole)
    torch.testing.assert_close(chunked_memory, new_memory)


def test_one_frame_shared_by_several_objects_gives_each_object_its_own_result():
    """An expanded frame (``Sam2FrameFeatures.expand``) is worked on once by memory attention
    and the memory encoder; the result equals running every object on its own copy."""
    model = _model()
    torch.manual_seed(3)
    with torch.no_grad():
        features = model.encode_frame(torch.randn(1, 3, 128, 128))
        memory = Sam2MemoryTokens(torch.randn(3, 2 * 64 + 4, 16), torch.randn(3, 2 * 64 + 4, 16), 4)
        shared = model.attend_to_memory(features.expand(3).image_embeddings, features.position_encoding, memory)
        copies = model.attend_to_memory(features.image_embeddings.repeat(3, 1, 1, 1), features.position_encoding, memory)
        masks = torch.randn(3, 1, 128, 128)
        scores = torch.tensor([[1.0], [-1.0], [2.0]])
        shared_memory = model.encode_memory(features.expand(3), masks, scores, binarize=False)
        copied = type(features)(features.image_embeddings.repeat(3, 1, 1, 1),
                                tuple(level.repeat(3, 1, 1, 1) for level in features.high_res_features),
                                features.position_encoding)
        copied_memory = model.encode_memory(copied, masks, scores, binarize=False)
    assert shared.shape == (3, 32, 8, 8)
    torch.testing.assert_close(shared, copies)
    assert not torch.allclose(shared[0], shared[1])  # each object read its own memory
    torch.testing.assert_close(shared_memory, copied_memory)


def test_cached_position_embedding_follows_the_weights_and_the_compute_dtype():
    model = _model()
    trunk = model.vision_encoder.trunk
    with torch.no_grad():
        first = trunk.position_embedding(32, 32)
        assert trunk.position_embedding(32, 32) is first  # reused
        trunk.pos_embed.add_(1.0)  # an optimizer step or a loaded checkpoint changes the weights
        changed = trunk.position_embedding(32, 32)
        torch.testing.assert_close(changed, first + 1.0)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            under_autocast = trunk.position_embedding(32, 32)
    torch.testing.assert_close(changed, trunk._position_embedding(32, 32).detach())
    assert under_autocast is not changed
    trained = trunk.position_embedding(32, 32)  # with gradients: computed, never cached
    assert trained.requires_grad


def test_bfloat16_session_runs_a_copy_with_bfloat16_matmul_weights_and_the_same_results():
    """A bfloat16 session keeps its linear and convolution weights in bfloat16 instead of letting
    autocast cast the float32 ones on every call: the user's model stays float32, and the masks
    are bit for bit those of autocast casting them."""
    from sam2_hf.inference import VideoSession

    model = _model()
    frames = np.random.default_rng(0).integers(0, 256, (6, 64, 80, 3), dtype=np.uint8)
    fast = VideoSession(model, frames, dtype=torch.bfloat16)
    qkv, norm = (lambda m: m.vision_encoder.trunk.blocks[0].attn.qkv), (lambda m: m.vision_encoder.trunk.blocks[0].norm1)
    assert qkv(fast.model).weight.dtype == torch.bfloat16 and norm(fast.model).weight.dtype == torch.float32
    assert qkv(model).weight.dtype == torch.float32 and fast.model.dtype == torch.float32
    casting = VideoSession(model, frames, dtype=torch.bfloat16)
    casting.model = model  # the float32 weights, cast by autocast on every call
    results = []
    for session in (fast, casting):
        session.add_points(0, 1, [[15, 20]], [1])
        session.add_box(2, 2, [30, 5, 60, 40])
        results.append([r.mask_logits for r in session.propagate()])
    assert len(results[0]) == len(frames)
    assert all(torch.equal(a, b) for a, b in zip(*results))


def test_merged_high_res_projections_equal_the_neck_then_the_decoders_convolutions():
    """The tracking path applies the mask decoder's 1x1 projections inside the neck, merged with
    the neck's own where a level takes nothing from deeper ones; where it does (a top-down level)
    they run after the neck. Either way: the neck's levels, then the decoder's convolutions."""
    model = _model()
    pixels = torch.randn(1, 3, 128, 128)
    projections = model.mask_decoder.high_res_projections()
    neck = model.vision_encoder.neck
    for top_down in (neck.top_down_levels, {0, 1, 2, 3}):
        neck.top_down_levels = top_down
        with torch.no_grad():
            levels = model.vision_encoder(pixels)
            merged = model.vision_encoder(pixels, projections)
        expected = model.mask_decoder.project_high_res_features(levels)
        assert len(projections) == len(expected) == 2
        for got, want in zip(merged, expected):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        assert torch.equal(merged[2], levels[2])


def test_windowed_block_adds_its_windows_to_the_residual_where_they_lie():
    """A windowed Hiera block without padding adds the attention's windows to the residual without
    copying them back to grid order first: the same numbers as unpartitioning, padded grids too."""
    from sam2_hf.modeling import hiera

    torch.manual_seed(0)
    for size in (16, 14):  # 14: padded to 16, the copying path
        block = hiera.HieraBlock(16, 16, 1, 4.0, window_size=4, query_stride=None).eval()
        x = torch.randn(1, size, size, 16)
        windows, padded = hiera._window_partition(block.norm1(x), 4)
        attended = x + hiera._window_unpartition(block.attn(windows), 4, padded, (size, size))
        expected = attended + block.mlp(block.norm2(attended))
        assert torch.equal(block(x), expected)
