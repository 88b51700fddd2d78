"""Our own checkpoint format: save_pretrained / from_pretrained / AutoModel / Hub layout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch
from transformers import AutoConfig, AutoModel

from sam2_hf import Sam2Model, Sam2VideoModel


def _outputs(model, config):
    torch.manual_seed(7)
    pixels = torch.randn(1, 3, config.image_size, config.image_size)
    with torch.no_grad():
        return model(pixel_values=pixels, input_points=torch.tensor([[[[40.0, 50.0], [90.0, 20.0]]]]),
                     input_labels=torch.tensor([[[1, 0]]]))


def _assert_same(expected: torch.Tensor, got: torch.Tensor) -> None:
    """Same weights, same input: equal up to float summation order (weights memory-mapped from
    safetensors sit at other alignments, which can change the CPU kernels' reduction order; seen:
    2e-8 on logits of magnitude 0.05, i.e. float32 rounding)."""
    scale = expected.abs().max()
    assert scale > 0
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5 * float(scale))


def test_round_trip_through_auto_model(tmp_path, config):
    model = Sam2Model(config).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert AutoConfig.from_pretrained(tmp_path).model_type == "sam2_hf"
    loaded = AutoModel.from_pretrained(tmp_path)
    assert type(loaded) is Sam2Model
    expected, got = _outputs(model, config), _outputs(loaded, config)
    _assert_same(expected.pred_masks, got.pred_masks)
    _assert_same(expected.iou_scores, got.iou_scores)


def test_auto_model_in_a_fresh_interpreter(tmp_path, config):
    """Registration happens on `import sam2_hf`; no trust_remote_code needed."""
    Sam2Model(config).save_pretrained(tmp_path)
    code = (
        "import sam2_hf\nfrom transformers import AutoModel\n"
        f"m = AutoModel.from_pretrained({str(tmp_path)!r})\nprint(type(m).__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("Sam2Model")


def test_video_checkpoint_loads_into_both_classes(tmp_path, config):
    video = Sam2VideoModel(config).eval()
    video.save_pretrained(tmp_path)
    image_model = Sam2Model.from_pretrained(tmp_path)  # skips the memory modules
    _assert_same(_outputs(video, config).pred_masks, _outputs(image_model, config).pred_masks)
    reloaded = Sam2VideoModel.from_pretrained(tmp_path)
    for key, value in video.state_dict().items():
        assert torch.equal(value, reloaded.state_dict()[key]), key


def test_image_checkpoint_is_refused_by_the_video_model(tmp_path, config):
    Sam2Model(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"missing keys: .*memory_attention"):
        Sam2VideoModel.from_pretrained(tmp_path)


def test_dtype_argument(tmp_path, config):
    Sam2Model(config).save_pretrained(tmp_path)
    assert Sam2Model.from_pretrained(tmp_path, dtype=torch.bfloat16).dtype == torch.bfloat16


def _hub_cache(cache: os.PathLike, repo_id: str, files_from: os.PathLike) -> None:
    """Lay out a folder as huggingface_hub's cache does after a download of `repo_id`."""
    repo = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    revision = "0" * 40
    snapshot = os.path.join(repo, "snapshots", revision)
    shutil.copytree(files_from, snapshot)
    os.makedirs(os.path.join(repo, "refs"))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(revision)


@pytest.mark.parametrize("layout", ["ours", "transformers"])
def test_hub_id_loads_offline_from_the_cache(tmp_path, monkeypatch, config, layout):
    source = tmp_path / "source"
    if layout == "ours":
        Sam2Model(config).save_pretrained(source)
        repo_id = "someone/sam2-hf-tiny"
    else:
        from transformers import Sam2Config as TransformersConfig
        from transformers import Sam2Model as TransformersModel

        reference = TransformersModel(TransformersConfig())
        with torch.no_grad():
            reference.prompt_encoder.shared_embedding.positional_embedding.copy_(
                reference.shared_image_embedding.positional_embedding
            )
        reference.save_pretrained(source)
        repo_id = "facebook/sam2.1-hiera-tiny"
    _hub_cache(tmp_path / "cache", repo_id, source)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    code = f"import sam2_hf\nm = sam2_hf.Sam2Model.from_pretrained({repo_id!r})\nprint(m.config.vision_config.embed_dim)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    expected = config.vision_config.embed_dim if layout == "ours" else 96
    assert result.stdout.strip().splitlines()[-1] == str(expected)


def test_unknown_model_type_is_refused(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match="'bert' model"):
        Sam2Model.from_pretrained(tmp_path)


def test_a_training_checkpoint_is_refused_with_a_short_error_that_names_the_prefix(tmp_path, config):
    """Accelerate saves the trained module's tensors as ``model.<key>``; the error says so and
    stays readable instead of listing every key twice."""
    from safetensors.torch import save_file

    model = Sam2VideoModel(config)
    model.save_pretrained(tmp_path)
    state = {f"model.{key}": value.contiguous() for key, value in model.state_dict().items()}
    save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError) as error:
        Sam2VideoModel.from_pretrained(tmp_path)
    message = str(error.value)
    assert "prefix 'model.'" in message and f"missing keys: {len(state)} under" in message
    assert "memory_attention.* (" in message and len(message) < 3000
