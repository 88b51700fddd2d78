"""The stateless per-frame step of Sam2VideoModel, without a session."""

from __future__ import annotations

import pytest
import torch

from sam2_hf import Sam2VideoModel

from .conftest import make_objects_visible, tiny_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return make_objects_visible(Sam2VideoModel(tiny_config()).eval())


@pytest.fixture(scope="module")
def features(model):
    with torch.no_grad():
        return model.encode_frame(torch.randn(1, 3, 128, 128))


def test_frame_features(features):
    assert features.image_embeddings.shape == (1, 32, 8, 8)
    assert [tuple(f.shape) for f in features.high_res_features] == [(1, 4, 32, 32), (1, 8, 16, 16)]
    assert features.expand(3).image_embeddings.shape == (3, 32, 8, 8)


def test_first_frame_step_and_memory(model, features):
    points = torch.tensor([[[40.0, 50.0]], [[100.0, 20.0]]])
    with torch.no_grad():
        out = model.track_step(features.expand(2), None, points, torch.ones(2, 1, dtype=torch.long), multimask_output=True)
        memory = model.encode_memory(features.expand(2), out.high_res_masks, out.object_score_logits, binarize=True)
    assert out.low_res_masks.shape == (2, 1, 32, 32) and out.high_res_masks.shape == (2, 1, 128, 128)
    assert out.object_pointer.shape == (2, 32) and out.object_score_logits.shape == (2, 1)
    assert memory.shape == (2, 16, 8, 8)


def test_memory_tokens_layout(model, features):
    memory = torch.randn(2, 16, 8, 8)
    pointers = torch.randn(2, 32)
    tokens = model.build_memory([(memory, 6), (memory, 0)], [(pointers, 3), (pointers, 1)], max_pointer_distance=15)
    # 2 frames x 64 positions, then 2 pointers split into 32 / 16 = 2 tokens each.
    assert tokens.tokens.shape == (2, 2 * 64 + 4, 16) and tokens.num_pointer_tokens == 4
    # Same spatial position, different temporal slot: positions differ by the temporal encodings.
    difference = tokens.position[0, 0] - tokens.position[0, 64]
    expected = model.memory_temporal_encoding[6, 0, 0] - model.memory_temporal_encoding[0, 0, 0]
    torch.testing.assert_close(difference, expected)
    with torch.no_grad():
        conditioned = model.track_step(features.expand(2), tokens, multimask_output=True)
    assert conditioned.low_res_masks.shape == (2, 1, 32, 32)


def test_mask_prompt_is_the_answer(model, features):
    mask = torch.zeros(1, 1, 128, 128)
    mask[..., 30:90, 20:70] = 1
    with torch.no_grad():
        out = model.track_step(features, None, mask_inputs=mask)
    assert torch.equal(out.high_res_masks > 0, mask > 0)
    assert out.object_score_logits.item() == 10.0
    with torch.no_grad():
        absent = model.track_step(features, None, mask_inputs=torch.zeros(1, 1, 128, 128))
    torch.testing.assert_close(absent.object_pointer, model.no_object_pointer.detach())


def test_absent_object_gets_blank_masks_and_the_no_object_pointer(model, features):
    with torch.no_grad():
        bias = model.mask_decoder.object_score_head.layers[-1].bias
        bias.fill_(-50.0)
        try:
            out = model.track_step(features, None, torch.tensor([[[40.0, 50.0]]]), torch.ones(1, 1, dtype=torch.long))
        finally:
            bias.fill_(5.0)
    assert (out.low_res_masks == -1024.0).all()
    torch.testing.assert_close(out.object_pointer, model.no_object_pointer.detach())
