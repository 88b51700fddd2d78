import pytest

from sam2_hf import PRESETS, Sam2Config, Sam2VideoModel

# Reference facts (shared/design/REFERENCE.md): tensor numbers of the official checkpoints
# (parameters and buffers) and their key counts. Ours merges the four point embeddings of the
# official prompt encoder into one tensor, hence three keys fewer.
OFFICIAL_NUMEL = {
    "sam2.1-hiera-tiny": 38_962_754,
    "sam2.1-hiera-small": 46_060_610,
    "sam2.1-hiera-base-plus": 80_850_434,
    "sam2.1-hiera-large": 224_446_898,
}
OFFICIAL_KEYS = {"sam2.1-hiera-tiny": 471, "sam2.1-hiera-small": 519, "sam2.1-hiera-base-plus": 615,
                 "sam2.1-hiera-large": 903, "sam2-hiera-tiny": 468}


def test_all_presets_exist():
    assert len(PRESETS) == 8
    for size in ("tiny", "small", "base-plus", "large"):
        assert f"sam2.1-hiera-{size}" in PRESETS and f"sam2-hiera-{size}" in PRESETS


@pytest.mark.parametrize("name", sorted(OFFICIAL_NUMEL))
def test_preset_sizes_match_the_official_checkpoints(name):
    model = Sam2VideoModel(Sam2Config.from_preset(name))
    state = model.state_dict()
    numel = sum(t.numel() for t in state.values())
    assert abs(numel - OFFICIAL_NUMEL[name]) <= 0.001 * OFFICIAL_NUMEL[name]
    assert len(state) == OFFICIAL_KEYS[name] - 3


def test_sam20_differs_from_21_only_on_the_memory_side():
    v20, v21 = Sam2Config.from_preset("sam2-hiera-tiny"), Sam2Config.from_preset("sam2.1-hiera-tiny")
    assert v20.vision_config.to_dict() == v21.vision_config.to_dict()
    assert not v20.memory_config.use_no_object_spatial_embedding and v21.memory_config.use_no_object_spatial_embedding
    assert len(Sam2VideoModel(v20).state_dict()) == OFFICIAL_KEYS["sam2-hiera-tiny"] - 3


def test_preset_aliases_and_unknown_names():
    assert Sam2Config.from_preset("facebook/sam2.1-hiera-base-plus").vision_config.embed_dim == 112
    assert Sam2Config.from_preset("sam2.1_hiera_b+").vision_config.embed_dim == 112
    with pytest.raises(ValueError, match="Unknown preset"):
        Sam2Config.from_preset("sam2.1-hiera-huge")


def test_config_round_trip(tmp_path):
    config = Sam2Config.from_preset("sam2.1-hiera-large", image_size=512)
    config.save_pretrained(tmp_path)
    loaded = Sam2Config.from_pretrained(tmp_path)
    assert loaded.image_size == 512 and loaded.image_embedding_size == 32
    assert loaded.vision_config.stages == [2, 6, 36, 4]
    assert loaded.memory_config.to_dict() == config.memory_config.to_dict()
