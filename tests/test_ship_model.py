"""scripts/ship_model.py's installation: the shipped model is swapped whole, never half-written,
and its card describes every run of its history."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from sam2_hf import Sam2VideoModel
from sam2_hf.model_card import write_model_card

from .conftest import load_script, tiny_config


@pytest.fixture(scope="module")
def ship_model():
    return load_script("ship_model")


def _run(val_data: str, **phase_options) -> dict:
    phase = {"config": "shipped_model_phase9", "steps": 10, "seconds": 60.0, "clip_length": 12, "frame_steps": [1, 2, 4],
             "max_objects": 3, "learning_rate": 3e-4, "schedule": "constant", "prompt_routing_steps": 0,
             "image_embedding_rms": None, "restart_memory": False, "freeze_image_encoder": False, **phase_options}
    return {"date": "2026-12-06", "device": "CPU, 2 threads", "start_from": "shipped", "phases": [phase],
            "seconds": 60.0, "val_data": val_data}


def test_install_swaps_in_the_model_with_its_history_and_card(tmp_path, ship_model):
    final, target = tmp_path / "run" / "model", tmp_path / "pretrained" / "small"
    model = Sam2VideoModel(tiny_config())
    model.save_pretrained(final)
    target.mkdir(parents=True)
    (target / "old.txt").write_text("the model shipped before")
    history = [_run(str(ship_model.REPOSITORY / "configs" / ".." / "data" / "synthetic_val_mini"))]

    ship_model.install(final, target, history, lambda folder: write_model_card(
        folder, model.config, "Sam2VideoModel", 1, origin="test", name=target.name))

    assert not (target / "old.txt").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["small"]  # no staging or earlier folder left
    assert json.loads((target / ship_model.HISTORY).read_text())[0]["val_data"] == "data/synthetic_val_mini"
    assert os.path.isabs(history[0]["val_data"])  # the caller's history is left as it was
    assert "# small\n" in (target / "README.md").read_text() and ".partial" not in (target / "README.md").read_text()
    loaded = Sam2VideoModel.from_pretrained(target)
    assert all((a == b).all() for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


def test_a_failure_while_installing_keeps_the_shipped_model(tmp_path, ship_model):
    final, target = tmp_path / "model", tmp_path / "small"
    Sam2VideoModel(tiny_config()).save_pretrained(final)
    target.mkdir()
    (target / "config.json").write_text("{}")

    def broken_card(folder):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        ship_model.install(final, target, [_run("data/synthetic_val_mini")], broken_card)
    assert [p.name for p in target.iterdir()] == ["config.json"]


def test_install_puts_back_a_model_an_interrupted_install_left_aside(tmp_path, ship_model):
    """A kill between replace_folder's two renames leaves the shipped model as .NAME.previous and
    no NAME: the next install restores it before anything can fail."""
    final, target = tmp_path / "model", tmp_path / "small"
    Sam2VideoModel(tiny_config()).save_pretrained(final)
    (tmp_path / ".small.previous").mkdir()
    (tmp_path / ".small.previous" / "config.json").write_text("{}")
    (tmp_path / ".small.partial").mkdir()

    def broken_card(folder):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        ship_model.install(final, target, [_run("data/synthetic_val_mini")], broken_card)
    assert [p.name for p in target.iterdir()] == ["config.json"]
    assert not (tmp_path / ".small.previous").exists()


def test_history_description_names_each_phases_options(ship_model):
    frozen = _run("v", freeze_image_encoder=True)
    trunk = _run("v", freeze_feature_pyramid=True, trunk_lr_scale=0.3)
    text = ship_model.describe([frozen, trunk])
    runs = [line for line in text.splitlines() if not line.startswith(" ")]
    assert len(runs) == 2 and runs[1].startswith("2. 2026-12-06, CPU, 2 threads, continuing from the model before")
    assert "(image encoder frozen) of clips of 12 frames 1-2-4 annotated frames apart" in text
    assert "(image encoder's trunk at 0.3x the rate, its feature pyramid frozen)" in text


def test_the_card_names_the_extra_training_sets_only_where_a_phase_used_them(ship_model):
    plain = _run("v", train_data="/abs/data/synthetic_train")
    chasing = _run("v", train_data="../data/synthetic_train_chasing", reentry_fraction=0.25)
    assert "on `synthetic_train_chasing`" in ship_model.describe([plain, chasing])
    assert "on `synthetic_train" not in ship_model.describe([plain])
    variety = _run("v", train_data="../data/synthetic_train_variety")
    assert "`synthetic_train_chasing` train on" in ship_model.extra_training_data([plain, chasing])
    assert "wider look" not in ship_model.extra_training_data([plain, chasing])
    assert "wider look" in ship_model.extra_training_data([chasing, variety])
    assert ship_model.extra_training_data([plain, _run("v")]) == ""
    mixed = _run("v", train_data=["/abs/data/synthetic_train", "/abs/data/synthetic_train_variety"],
                 first_frame_correction_clicks=4)
    assert "on `synthetic_train` + `synthetic_train_variety`" in ship_model.describe([mixed])
    assert "0-4 corrective clicks on the first frame after a click or box" in ship_model.describe([mixed])
    assert "wider look" in ship_model.extra_training_data([mixed])
    balanced = _run("v", train_data=["/abs/data/synthetic_train", "/abs/data/synthetic_train_variety",
                                     "/abs/data/synthetic_train_variety"])
    assert "on `synthetic_train` + 2 x `synthetic_train_variety`" in ship_model.describe([balanced])
    emerging = _run("v", train_data=["/abs/data/synthetic_train", "../data/synthetic_train_emerging"])
    assert "start hidden behind their target" in ship_model.extra_training_data([plain, emerging])
    assert "hidden" not in ship_model.extra_training_data([plain, chasing, variety])


def test_the_history_keeps_data_paths_relative_to_the_repository(ship_model):
    """Paths of the machine that trained (absolute, in every phase) become repository-relative."""
    root = ship_model.REPOSITORY
    run = _run(str(root / "data" / "synthetic_val_mini"), train_data=[str(root / "configs" / ".." / "data" / "synthetic_train"),
                                                                  "../data/synthetic_train_variety"])
    plain = _run("data/v", train_data=str(root / "data" / "synthetic_train"))
    relative = ship_model.repository_relative([run, plain, _run("data/v")])
    assert relative[0]["val_data"] == os.path.join("data", "synthetic_val_mini")
    assert relative[0]["phases"][0]["train_data"] == [os.path.join("data", "synthetic_train"), "../data/synthetic_train_variety"]
    assert relative[1]["phases"][0]["train_data"] == [os.path.join("data", "synthetic_train")]
    assert "train_data" not in relative[2]["phases"][0] and relative[2]["val_data"] == "data/v"


def test_a_run_continues_the_history_of_the_model_it_started_from(tmp_path, ship_model):
    """A run started from a candidate kept outside the package carries that candidate's history,
    not the shipped model's; one started from a folder without a history, the shipped model's."""
    shipped, candidate, bare = tmp_path / "shipped", tmp_path / "candidate", tmp_path / "bare"
    for folder, runs in ((shipped, [_run("a")]), (candidate, [_run("a"), _run("b")]), (bare, None)):
        folder.mkdir()
        if runs is not None:
            (folder / ship_model.HISTORY).write_text(json.dumps(runs))
    assert [run["val_data"] for run in ship_model.earlier_history(str(candidate), shipped)] == ["a", "b"]
    assert [run["val_data"] for run in ship_model.earlier_history(str(bare), shipped)] == ["a"]
    assert ship_model.earlier_history(None, shipped) == []


def test_the_readme_example_check_tells_the_shipped_model_from_an_untrained_one(ship_model):
    """The gate a candidate passes before installing: the shipped model keeps the clicked object
    on the README's example (run 15 measured mean IoU 0.889, 0.70 on its worst frame), untrained
    weights do not (0.071)."""
    import torch

    import sam2_hf
    from sam2_hf import Sam2VideoModel

    shipped = Sam2VideoModel.from_pretrained(sam2_hf.DEFAULT_MODEL)
    shortfalls = ship_model.example_shortfalls(ship_model.readme_example_ious(shipped))
    assert not shortfalls, shortfalls
    torch.manual_seed(0)
    untrained = ship_model.readme_example_ious(Sam2VideoModel(shipped.config))
    assert np.mean(untrained) < 0.3 and len(ship_model.example_shortfalls(untrained)) == 2


def test_the_card_reports_the_unseen_generator_with_the_untrained_baseline(tmp_path, ship_model):
    from sam2_hf.data import write_sav_dataset

    write_sav_dataset(tmp_path, 2, layout="val", num_frames=4, height=32, width=32)
    text = ship_model.unseen_generator_paragraph({"trained": {"1_click": 0.4321, "mask": 0.5}, "untrained": {"1_click": 0.05, "mask": 0.1}},
                                                 tmp_path)
    assert "2 clips" in text and "J&F 0.432 from one click,\n0.500 from the first frame's mask (untrained 0.050 / 0.100)" in text


def test_the_card_counts_the_videos_it_scored_not_the_limit(tmp_path, ship_model):
    """`--max-videos 20` on the 8 twin videos scores 8, and the card says what was scored (run
    14's card said 20): it counts the videos the evaluation loads."""
    from sam2_hf.data import write_sav_dataset

    write_sav_dataset(tmp_path, 3, layout="val", num_frames=4, height=32, width=32)
    assert len(ship_model.load_videos(tmp_path, 20)) == 3
    assert len(ship_model.load_videos(tmp_path, 2)) == 2
    assert len(ship_model.load_videos(tmp_path)) == 3


def test_a_checkpoint_ships_with_its_step_and_training_time_in_the_card(tmp_path, ship_model):
    """`--checkpoint 4` ships what the last phase held at step 4: its weights, and a card that
    says 4 steps of 8, with the time its metrics recorded there."""
    import csv

    import torch
    import yaml

    from sam2_hf.data import write_sav_dataset
    from sam2_hf.training import TrainingConfig, train
    from sam2_hf.training.trainer import load_checkpoint_model

    write_sav_dataset(tmp_path / "train", 2, seed=1, num_frames=12, height=64, width=64)
    run, phase = tmp_path / "run", "shipped_model_phase9"
    config = {"train_data": str(tmp_path / "train"), "output_dir": str(run / phase), "model": tiny_config().to_dict(),
              "steps": 8, "clip_length": 3, "max_objects": 1, "warmup_steps": 2, "save_every": 4, "log_every": 1}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    train(TrainingConfig.from_file(tmp_path / "config.yaml"))
    (run / "recipe_summary.json").write_text(json.dumps({**_run("v"), "phases": [{"config": phase, "steps": 8, "seconds": 100.0}],
                                                         "seconds": 150.0}))
    with (run / phase / "metrics.csv").open() as handle:
        at_step_4 = next(float(row["seconds"]) for row in csv.DictReader(handle) if row["step"] == "4")

    history = ship_model.run_history(run, 4)
    assert history["phases"][0]["steps"] == 4 and history["phases"][0]["checkpoint_of"] == 8
    assert history["phases"][0]["seconds"] == at_step_4 and history["seconds"] == pytest.approx(50.0 + at_step_4)
    assert "its checkpoint at step 4 of 8" in ship_model.describe([history])
    assert "checkpoint" not in ship_model.describe([ship_model.run_history(run)])
    shipped = Sam2VideoModel.from_pretrained(ship_model.checkpoint_folder(run / phase, 4)).state_dict()
    expected = load_checkpoint_model(run / phase, 4).state_dict()
    assert all(torch.equal(shipped[name], value) for name, value in expected.items())
