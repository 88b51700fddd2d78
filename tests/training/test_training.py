"""Training runs on tiny configs: loss goes down, two processes agree, resume is exact."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from sam2_hf import Sam2VideoModel, VideoSession
from sam2_hf.data import decode_masks, load_sav, write_sav_dataset
from sam2_hf.processing.image_processor import Sam2ImageProcessor
from sam2_hf.training import TrainingConfig, train
from sam2_hf.training.clip_model import ClipTrainingModel, object_code_features
from sam2_hf.training.clips import ClipDataset
from sam2_hf.training.prompts import PromptMix
from sam2_hf.training.trainer import learning_rate_factor, load_checkpoint_model, load_model, parameter_groups, prepare_model

from ..conftest import load_script, tiny_config

TINY_MODEL = {
    "vision_config": {"embed_dim": 16, "num_heads": 1, "stages": [1, 1, 2, 1], "global_attention_blocks": [3],
                      "window_spec": [4, 4, 4, 2], "window_pos_embed_background_size": [4, 4], "fpn_hidden_size": 32},
    "mask_decoder_config": {"hidden_size": 32, "num_attention_heads": 2, "mlp_dim": 64, "iou_head_hidden_dim": 32},
    "memory_config": {"memory_dim": 16, "feed_forward_dim": 64, "fuser_intermediate_dim": 64},
    "image_size": 128,
}
REPOSITORY = Path(__file__).resolve().parents[2]


def write_config(folder: Path, sav: Path, **options) -> Path:
    values = {"train_data": str(sav / "train"), "output_dir": str(folder / "run"), "model": TINY_MODEL, "steps": 8,
              "clip_length": 4, "max_objects": 2, "warmup_steps": 2, "save_every": 4, "log_every": 1, **options}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def read_losses(run: Path) -> list[float]:
    with (run / "metrics.csv").open() as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle)]


def _first_clip(sav: Path, config, clip_length: int) -> dict:
    """The first training clip of the small SA-V fixture, at ``config``'s image size."""
    return ClipDataset(load_sav(sav / "train"), Sam2ImageProcessor(config.image_size), 1, clip_length=clip_length)[0]


def train_on_one_clip(sav: Path, steps: int = 25, prompt_routing: bool = False) -> tuple[list[float], set[str]]:
    """Losses of ``steps`` AdamW steps on one clip of a fresh tiny model, and the top-level
    modules whose parameters got a non-zero gradient in the first step."""
    torch.manual_seed(0)
    config = tiny_config()
    clip = _first_clip(sav, config, 4)
    module = ClipTrainingModel(Sam2VideoModel(config))
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    losses, trained = [], set()
    for _ in range(steps):
        loss = module(clip["pixel_values"], clip["targets"], clip["seed"], prompt_routing=prompt_routing)["loss"]
        optimizer.zero_grad()
        loss.backward()
        if not losses:
            trained = {name.split(".")[0] for name, p in module.model.named_parameters() if p.grad is not None and p.grad.any()}
        optimizer.step()
        losses.append(loss.item())
    return losses, trained


def test_steps_on_one_clip_reduce_the_loss(sav):
    losses, _ = train_on_one_clip(sav)
    assert losses[-1] < 0.5 * losses[0] and min(losses[-5:]) < min(losses[:5])


def test_corrective_clicks_decode_again_without_reading_the_memory_again(sav):
    """As in SAM 2's training, a corrected frame reads its memories once; each click only runs the
    prompt encoder and mask decoder again (and so costs a fraction of a tracked frame)."""
    torch.manual_seed(0)
    config = tiny_config()
    clip = _first_clip(sav, config, 4)
    module = ClipTrainingModel(Sam2VideoModel(config), num_correction_frames=2, correction_clicks=3)
    memory_reads, decodes = [], []
    module.model.memory_attention.register_forward_hook(lambda *_: memory_reads.append(1))
    module.model.mask_decoder.register_forward_hook(lambda *_: decodes.append(1))
    module(clip["pixel_values"], clip["targets"], clip["seed"])["loss"].backward()
    assert len(memory_reads) == 3  # frames 1-3
    assert len(decodes) == 1 + 3 + 2 * 3  # every frame, and each click on the two corrected frames


def _record_decodes(module: ClipTrainingModel) -> list[tuple[int, bool, bool]]:
    """Each mask decoding of the clip as (clicks given, whether a mask was given as a dense prompt,
    whether three candidate masks were asked for)."""
    calls, decode = [], module.model.decode_masks

    def recording(embeddings, high_res, coords, labels, dense, multimask_output):
        calls.append((0 if coords is None else coords.shape[1], dense is not None, multimask_output))
        return decode(embeddings, high_res, coords, labels, dense, multimask_output)

    module.model.decode_masks = recording
    return calls


def test_corrective_clicks_on_a_tracked_frame_ask_for_candidates_as_the_session_does(sav):
    """A tracked frame's first corrective click gets three candidate masks, as the session (and
    SAM 2's training) decode one click on a frame that read the memory; the second and third
    clicks one mask."""
    torch.manual_seed(0)
    config = tiny_config()
    clip = _first_clip(sav, config, 2)
    module = ClipTrainingModel(Sam2VideoModel(config), PromptMix(mask=1, click=0, box=0), num_correction_frames=1,
                               correction_clicks=3)
    calls = _record_decodes(module)
    module(clip["pixel_values"], clip["targets"], clip["seed"])["loss"].backward()
    assert calls == [(0, True, False), (0, False, True), (1, True, True), (2, True, False), (3, True, False)]
    memory_config = config.memory_config
    assert [memory_config.multimask_output(n, from_memory=True) for n in range(4)] == [c[2] for c in calls[1:]]
    memory_config.multimask_output_for_tracking = False
    assert not memory_config.multimask_output(1, from_memory=True) and memory_config.multimask_output(1)


def test_first_frame_corrective_clicks_refine_a_click_as_the_session_does(sav):
    """After a first click, frame 0 gets 0 to n more clicks (drawn per clip), each decoded with all
    the clicks so far and the last mask, as the session decodes a user's clicks; a mask prompt
    gets none."""
    torch.manual_seed(0)
    config = tiny_config()
    clip = _first_clip(sav, config, 3)
    clicked = ClipTrainingModel(Sam2VideoModel(config), PromptMix(mask=0, click=1, box=0), num_correction_frames=0,
                                first_frame_correction_clicks=3)
    calls = _record_decodes(clicked)
    drawn = set()
    for seed in range(12):
        calls.clear()
        clicked(clip["pixel_values"], clip["targets"], seed)["loss"].backward()
        first_frame = calls[:-2]  # frames 1 and 2 are tracked: one decoding each, without clicks
        assert calls[-2:] == [(0, False, True), (0, False, True)]
        # three candidates for the first click only (the session's rule: 0-1 clicks)
        assert first_frame == [(1, False, True)] + [(clicks, True, False) for clicks in range(2, len(first_frame) + 1)]
        drawn.add(len(first_frame) - 1)
    assert drawn == {0, 1, 2, 3}
    masked = ClipTrainingModel(Sam2VideoModel(config), PromptMix(mask=1, click=0, box=0), num_correction_frames=0,
                               first_frame_correction_clicks=3)
    calls = _record_decodes(masked)
    masked(clip["pixel_values"], clip["targets"], 0)
    assert calls == [(0, True, False), (0, False, True), (0, False, True)]  # the mask is frame 0's output as given, no clicks


def test_object_code_features_say_which_object_each_cell_shows():
    model = Sam2VideoModel(tiny_config())
    size, cell = model.config.image_size, model.config.image_size // model.config.image_embedding_size
    targets = torch.zeros(2, size, size)
    targets[0, : 4 * cell, : 4 * cell] = 1
    targets[1, 4 * cell : 6 * cell, 5 * cell :] = 1  # an 8x8 grid of cells
    features = object_code_features(model, targets, torch.Generator().manual_seed(0))
    embedding = features.image_embeddings
    assert embedding.shape == (2, model.config.mask_decoder_config.hidden_size, *(2 * [model.config.image_embedding_size]))
    assert torch.equal(embedding[0], embedding[1])  # one frame, seen by both objects
    first, second, background = embedding[0, :, 1, 1], embedding[0, :, 5, 6], embedding[0, :, 7, 0]
    assert torch.equal(embedding[0, :, 3, 3], first) and torch.equal(embedding[0, :, 4, 7], second)
    assert len({tuple(first.tolist()), tuple(second.tolist()), tuple(background.tolist())}) == 3
    assert all(not level.any() for level in features.high_res_features)


def test_prompt_routing_steps_train_the_prompt_path_only(sav):
    """The routing step's loss comes from the prompt encoder and mask decoder alone, and steps on
    one clip lower it."""
    losses, trained = train_on_one_clip(sav, prompt_routing=True)
    assert trained == {"prompt_encoder", "mask_decoder", "no_memory_embedding"}
    assert losses[-1] < 0.5 * losses[0]


def test_trunk_learning_rate_scale_and_a_frozen_feature_pyramid(tmp_path):
    model = Sam2VideoModel(tiny_config())
    names = {id(p): name for name, p in model.named_parameters()}
    rates = {}
    for scale, freeze in ((1.0, False), (0.1, True)):
        config = TrainingConfig(train_data=str(tmp_path), output_dir=str(tmp_path), learning_rate=1e-3, layer_decay=0.9,
                                trunk_lr_scale=scale, freeze_feature_pyramid=freeze)
        rates[scale] = {id(p): group["lr"] for group in parameter_groups(model, config) for p in group["params"]}
    trained = set(rates[0.1])
    assert {names[key] for key in set(rates[1.0]) - trained} == {n for n in names.values() if n.startswith("vision_encoder.neck.")}
    assert not any(p.requires_grad for p in model.vision_encoder.neck.parameters())
    trunk = {key for key in trained if names[key].startswith("vision_encoder.trunk.")}
    assert trunk and trained - trunk
    for key in trained:
        expected = 0.1 if key in trunk else 1.0
        assert rates[0.1][key] == pytest.approx(expected * rates[1.0][key]), names[key]
    assert max(rates[1.0][key] for key in trained - trunk) == pytest.approx(1e-3)


def test_clips_are_a_function_of_the_sample_number(sav):
    processor = Sam2ImageProcessor(128)
    videos = load_sav(sav / "train")
    a, b = ClipDataset(videos, processor, 4, clip_length=4, seed=3), ClipDataset(videos, processor, 4, clip_length=4, seed=3)
    assert torch.equal(a[2]["pixel_values"], b[2]["pixel_values"]) and a[2]["seed"] == b[2]["seed"]
    assert a[2]["targets"].shape[:2][0] == 4 and a[2]["targets"][0].flatten(1).any(1).all()  # objects visible on frame 0
    assert not torch.equal(a[1]["pixel_values"], a[2]["pixel_values"])
    # Prompt-routing samples skip the frames and nothing else.
    routing = ClipDataset(videos, processor, 4, clip_length=4, seed=3, frames_from=3)
    assert routing[2]["pixel_values"] is None and torch.equal(routing[3]["pixel_values"], a[3]["pixel_values"])
    assert all(torch.equal(routing[i]["targets"], a[i]["targets"]) and routing[i]["seed"] == a[i]["seed"] for i in (2, 3))


def test_clips_take_every_kth_annotated_frame(tmp_path):
    write_sav_dataset(tmp_path, 2, seed=5, num_frames=24, num_objects=2, annotation_stride=1)
    videos = load_sav(tmp_path)
    processor = Sam2ImageProcessor(96)
    every_masks = {row["video_id"]: [torch.from_numpy(decode_masks(row, i)) for i in range(24)] for row in videos}
    for step in (1, 3):
        clip = ClipDataset(videos, processor, 1, clip_length=5, max_objects=1, seed=0, flip_probability=0.0,
                           frame_steps=(step,))[0]
        targets = clip["targets"][:, 0] > 0.5  # (T, S, S)
        matches = [(video, start) for video, masks in every_masks.items() for start in range(24 - 4 * step)
                   if all(torch.equal(targets[i], _resized_any(masks[start + i * step], 96, targets[i]))
                          for i in range(5))]
        assert matches, f"no run of every {step}th frame gives the clip's masks"
    with pytest.raises(ValueError, match="frame_steps"):
        ClipDataset(videos, processor, 1, frame_steps=(0,))


def test_reentry_clips_hold_an_object_that_leaves_view_and_comes_back(tmp_path):
    write_sav_dataset(tmp_path, 3, seed=1, num_frames=64, num_objects=3, annotation_stride=1)
    videos = load_sav(tmp_path)
    processor = Sam2ImageProcessor(64)
    clips = ClipDataset(videos, processor, 6, clip_length=12, seed=0, frame_steps=(1, 2, 4), reentry_fraction=1.0)
    for index in range(len(clips)):
        visible = clips[index]["targets"][:, 0].flatten(1).any(1).tolist()  # the first object, per frame
        gone = visible.index(False)
        assert visible[0] and any(visible[gone:]), visible
    assert torch.equal(clips[4]["targets"], clips[4]["targets"])
    uniform = ClipDataset(videos, processor, 40, clip_length=12, seed=0, frame_steps=(1, 2, 4), frames_from=40)
    returns = [not all(v) and any(v[v.index(False):]) for v in
               (uniform[i]["targets"][:, 0].flatten(1).any(1).tolist() for i in range(40))]
    assert sum(returns) < 20  # what the option is for: few uniformly drawn clips hold one
    with pytest.raises(ValueError, match="reentry_fraction"):
        ClipDataset(videos, processor, 1, reentry_fraction=1.5)


def test_reentry_clips_need_videos_that_have_them(tmp_path):
    write_sav_dataset(tmp_path, 1, seed=1, num_frames=2, num_objects=2, annotation_stride=1)  # 2 frames: nothing returns
    clips = ClipDataset(load_sav(tmp_path), Sam2ImageProcessor(64), 1, clip_length=2, reentry_fraction=1.0)
    with pytest.raises(ValueError, match="leaves view and comes back"):
        clips[0]


def _resized_any(masks: torch.Tensor, size: int, target: torch.Tensor) -> torch.Tensor:
    """The object's mask among ``masks`` ``(N, H, W)`` (resized as the clips resize) equal to ``target``, else the first."""
    resized = torch.nn.functional.interpolate(masks[None].float(), size=(size, size), mode="nearest")[0] > 0.5
    return next((m for m in resized if torch.equal(m, target)), resized[0])


def test_cli_run_writes_a_loadable_model_and_logs(tmp_path, sav):
    config = write_config(tmp_path, sav, val_data=str(sav / "val"), eval_every=4)
    result = subprocess.run(["sam2-hf", "train", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    run = tmp_path / "run"
    assert len(read_losses(run)) == 8
    with (run / "metrics.csv").open() as handle:
        scores = [row["val_jf_1_click"] for row in csv.DictReader(handle)]
    assert scores[3] and scores[7] and not scores[0] and 0 <= float(scores[7]) <= 1
    model = Sam2VideoModel.from_pretrained(run / "model")
    assert model.config.image_size == 128 and (run / "model" / "README.md").is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_0000004", "step_0000008"]
    last, earlier = load_checkpoint_model(run, 8).state_dict(), load_checkpoint_model(run, 4).state_dict()
    assert all(torch.equal(last[name], value) for name, value in model.state_dict().items())
    assert not all(torch.equal(earlier[name], value) for name, value in model.state_dict().items())
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at step 5; it keeps steps \[4, 8\]"):
        load_checkpoint_model(run, 5)


def _kill_processes_running(argument: str) -> None:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if argument in cmdline.read_bytes().decode(errors="replace").split("\0"):
                os.kill(int(cmdline.parent.name), signal.SIGKILL)


def test_two_processes_train_data_parallel_and_agree(tmp_path, sav):
    # Two prompt-routing steps first: each process gets its share of the samples without frames.
    config = write_config(tmp_path, sav, steps=4, save_every=0, prompt_routing_steps=2)
    with socket.socket() as probe:  # a free rendezvous port, not the default one another job may hold
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--main_process_ip", "127.0.0.1", "--main_process_port", str(port),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--num_cpu_threads_per_process", "1", str(REPOSITORY / "scripts" / "train.py"), str(config)]
    # Output to a file, not a pipe: workers run in sessions of their own and a hung one would keep
    # a pipe open forever. A worker can also outlive its launcher (seen: idle, after a passing
    # run), so leftovers are found by the config path on their command line and killed.
    log = tmp_path / "launch.log"
    with log.open("w") as output:
        launcher = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            launcher.wait(timeout=300)
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
        finally:
            _kill_processes_running(str(config))
    printed = log.read_text()
    assert launcher.returncode == 0, f"the 2-process run failed or hung (300 s):\n{printed[-3000:]}"
    summary = json.loads((tmp_path / "run" / "training_summary.json").read_text())
    assert summary["num_processes"] == 2 and summary["steps"] == 4
    first, second = summary["weight_checksums"]
    assert first == second
    # The schedule advances once per optimizer step, however many processes there are.
    settings = TrainingConfig.from_file(config)
    with (tmp_path / "run" / "metrics.csv").open() as handle:
        rates = [float(row["lr"]) for row in csv.DictReader(handle)]
    assert rates == pytest.approx([settings.learning_rate * learning_rate_factor(step, settings) for step in range(1, 5)])


@pytest.mark.parametrize("clips_per_step", [1, 2])
def test_resume_after_a_kill_reproduces_the_uninterrupted_run(tmp_path, sav, clips_per_step):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # The prompt-routing steps span the interruption (at step 4).
    options = {"steps": 16, "prompt_routing_steps": 6, "clips_per_step": clips_per_step}
    uninterrupted = write_config(tmp_path / "a", sav, **options)
    subprocess.run(["sam2-hf", "train", str(uninterrupted)], capture_output=True, text=True, check=True)
    expected = read_losses(tmp_path / "a" / "run")

    interrupted = write_config(tmp_path / "b", sav, **options)
    process = subprocess.Popen(["sam2-hf", "train", str(interrupted)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "b" / "run" / "checkpoints" / "step_0000004" / "trainer_state.json"
    deadline = time.time() + 300
    while not checkpoint.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    run = tmp_path / "b" / "run"
    assert not (run / "model").exists(), "the run finished before it could be killed"
    # What a kill *during* a later save leaves: the folder and a cut weights file, no trainer_state.json
    # (written last). Resuming must ignore it and start from the last complete checkpoint.
    half_saved = run / "checkpoints" / "step_0000008"
    half_saved.mkdir(exist_ok=True)
    (half_saved / "model.safetensors").write_bytes(b"\x00" * 100)
    (half_saved / "trainer_state.json").unlink(missing_ok=True)
    subprocess.run(["sam2-hf", "train", str(interrupted)], capture_output=True, text=True, check=True)
    resumed = read_losses(run)
    assert len(resumed) == 16
    assert resumed == expected  # bit for bit
    shutil.rmtree(run / "checkpoints")


def test_a_constant_rate_run_given_more_steps_goes_on_as_one_run(tmp_path, sav):
    """The shipped model's long phase grows this way, session by session."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    straight = write_config(tmp_path / "a", sav, steps=10, schedule="constant")
    subprocess.run(["sam2-hf", "train", str(straight)], capture_output=True, text=True, check=True)
    grown = write_config(tmp_path / "b", sav, steps=6, schedule="constant")
    subprocess.run(["sam2-hf", "train", str(grown)], capture_output=True, text=True, check=True)
    grown = write_config(tmp_path / "b", sav, steps=10, schedule="constant")
    subprocess.run(["sam2-hf", "train", str(grown)], capture_output=True, text=True, check=True)
    run = tmp_path / "b" / "run"
    assert read_losses(run) == read_losses(tmp_path / "a" / "run")
    summary = json.loads((run / "training_summary.json").read_text())
    assert summary["steps"] == 10
    # The clock goes on from the checkpoint: the record counts both sessions' training time.
    with (run / "metrics.csv").open() as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    assert seconds == sorted(seconds) and summary["seconds"] >= seconds[-1] > seconds[5] > 0
    trained = Sam2VideoModel.from_pretrained(run / "model").state_dict()
    reference = Sam2VideoModel.from_pretrained(tmp_path / "a" / "run" / "model").state_dict()
    assert all(torch.equal(trained[name], reference[name]) for name in reference)


def test_clips_per_step_average_the_losses_of_consecutive_clips(tmp_path, sav):
    """With the weights held still (learning rate 0), a step of two clips sees the clips (and
    dropout draws) of two single-clip steps and logs their mean loss."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    single = write_config(tmp_path / "a", sav, steps=4, learning_rate=0.0, save_every=0)
    subprocess.run(["sam2-hf", "train", str(single)], capture_output=True, text=True, check=True)
    paired = write_config(tmp_path / "b", sav, steps=2, clips_per_step=2, learning_rate=0.0, save_every=0)
    subprocess.run(["sam2-hf", "train", str(paired)], capture_output=True, text=True, check=True)
    one, two = read_losses(tmp_path / "a" / "run"), read_losses(tmp_path / "b" / "run")
    assert len(set(one)) == 4  # four different clips
    assert two == pytest.approx([(one[0] + one[1]) / 2, (one[2] + one[3]) / 2], rel=1e-6)


def test_a_run_trains_on_several_folders_named_beside_its_config(tmp_path, sav):
    """``train_data`` as a list: paths relative to the config, videos of every folder drawn, the
    model card naming them all."""
    shutil.copytree(sav / "train", tmp_path / "plain")
    write_sav_dataset(tmp_path / "varied", 2, seed=6, num_frames=24, variety=True)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"train_data": ["plain", "./varied"], "output_dir": "run", "model": TINY_MODEL,
                                    "steps": 2, "clip_length": 3, "max_objects": 2, "warmup_steps": 1, "save_every": 0,
                                    "first_frame_correction_clicks": 2}))
    config = TrainingConfig.from_file(path)
    assert config.train_folders == [str(tmp_path / "plain"), str(tmp_path / "varied")]
    videos = load_sav(config.train_data)
    assert {Path(row["video_path"]).parent.name for row in videos} == {"plain", "varied"} and len(videos) == 5
    final = train(config)
    assert "on `plain`, `varied`" in (final / "README.md").read_text()
    assert Sam2VideoModel.from_pretrained(final).config.image_size == 128


def test_the_command_line_trains_on_the_folders_it_names(tmp_path, sav):
    """``sam2-hf train CONFIG --train-data A B``: the folders replace the config's, taken from the
    working directory as command-line paths are."""
    shutil.copytree(sav / "train", tmp_path / "plain")
    write_sav_dataset(tmp_path / "varied", 2, seed=6, num_frames=24, variety=True)
    config = write_config(tmp_path, sav, train_data=str(tmp_path / "missing"), steps=1, save_every=0)
    result = subprocess.run(["sam2-hf", "train", str(config), "--train-data", "plain", "varied"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    saved = json.loads((tmp_path / "run" / "training_config.json").read_text())
    assert [(tmp_path / folder).resolve() for folder in saved["train_data"]] == [tmp_path / "plain", tmp_path / "varied"]
    assert "on `plain`, `varied`" in (tmp_path / "run" / "model" / "README.md").read_text()


def test_a_run_killed_before_its_first_checkpoint_starts_afresh(tmp_path, sav):
    """Rows such a run logged belong to no checkpoint: the restart neither appends to them nor counts their time."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("step,lr,seconds,loss\n1,0.001,500.0,9.0\n2,0.001,1000.0,9.0\n")
    config = write_config(tmp_path, sav, steps=3, save_every=0)
    subprocess.run(["sam2-hf", "train", str(config)], capture_output=True, text=True, check=True)
    with (run / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["step"]) for row in rows] == [1, 2, 3]
    assert float(rows[-1]["seconds"]) < 500 and 9.0 not in [float(row["loss"]) for row in rows]


@pytest.mark.parametrize(
    "content, message",
    [("steps: 3\n", "lacks the training options"), ("train_data: x\noutput_dir: y\nspeed: 2\n", "unknown training options"),
     ("train_data: x\noutput_dir: y\nschedule: costant\n", "schedule: 'costant' is not one of"),
     ("train_data: x\noutput_dir: y\nclips_per_step: 0\n", "clips_per_step: 0 is not at least 1")],
)
def test_bad_configs(tmp_path, content, message):
    path = tmp_path / "config.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        TrainingConfig.from_file(path)


def test_training_after_tracking_in_the_same_process(sav):
    """Caches filled under inference mode (tracking) must not break autograd later."""
    torch.manual_seed(0)
    config = tiny_config()
    model = Sam2VideoModel(config)
    clip = _first_clip(sav, config, 3)
    frames = (clip["pixel_values"].permute(0, 2, 3, 1).clamp(-2, 2) * 50 + 128).to(torch.uint8).numpy()
    with VideoSession(model, frames) as session:
        session.add_points(0, 1, [[64, 64]], [1])
        list(session.propagate())
    loss = ClipTrainingModel(model.train())(clip["pixel_values"], clip["targets"], clip["seed"])["loss"]
    loss.backward()
    assert all(p.grad is not None for p in model.memory_attention.parameters())


def test_shipped_model_recipe_is_a_chain_of_runs():
    """Each phase of the shipped model's recipe starts from the model the phase before wrote."""
    phases = (REPOSITORY / "configs").glob("shipped_model_phase*.yaml")
    paths = sorted(phases, key=lambda path: int(path.stem.removeprefix("shipped_model_phase")))
    paths.append(REPOSITORY / "configs" / "shipped_model.yaml")
    configs = [TrainingConfig.from_file(path) for path in paths]
    assert isinstance(configs[0].model, dict) and configs[0].prompt_routing_steps == configs[0].steps
    for previous, config in zip(configs, configs[1:]):
        assert Path(config.model).resolve() == (Path(previous.output_dir) / "model").resolve()
    assert len({Path(c.output_dir).resolve() for c in configs}) == len(configs)
    # The phases after the first five must not go over clips an earlier phase drew (clips are a
    # function of seed, clip length and step).
    draws = [(c.seed, c.clip_length) for c in configs]
    assert all(draws[index] not in draws[:index] for index in range(5, len(draws)))


def test_memory_attention_dropout_option_replaces_the_models_and_is_saved(tmp_path, sav):
    torch.manual_seed(0)
    Sam2VideoModel(tiny_config()).save_pretrained(tmp_path / "checkpoint")  # dropout 0.1, SAM 2's
    options = {"train_data": str(sav / "train"), "output_dir": str(tmp_path / "run"), "model": str(tmp_path / "checkpoint")}

    def attend_twice(model: Sam2VideoModel) -> tuple[torch.Tensor, torch.Tensor]:
        """Two training-mode passes of memory attention over the same 8x8 frame and memories."""
        generator = torch.Generator().manual_seed(0)
        features = torch.randn(2, 64, model.config.mask_decoder_config.hidden_size, generator=generator)
        memory = torch.randn(2, 128, model.config.memory_config.memory_dim, generator=generator)
        attention = model.memory_attention.train()
        return tuple(attention(features, torch.zeros_like(features), memory, torch.zeros_like(memory)) for _ in range(2))

    config = TrainingConfig(**options)
    first, second = attend_twice(prepare_model(load_model(config), config))
    assert not torch.equal(first, second)  # dropout draws other masks each call
    config = TrainingConfig(**options, memory_attention_dropout=0.0)
    model = prepare_model(load_model(config), config)
    first, second = attend_twice(model)
    assert torch.equal(first, second)
    model.save_pretrained(tmp_path / "trained")
    assert Sam2VideoModel.from_pretrained(tmp_path / "trained").config.memory_config.dropout == 0.0


def test_training_leaves_denormals_as_torch_does_by_default(tmp_path, sav):
    """Training flushes values below float32's normal range to zero (their slow path halved a
    CPU step) and turns that off again when it ends."""
    denormal = torch.tensor([1e-40])
    assert (denormal * 1.0).item() != 0
    train(TrainingConfig.from_file(write_config(tmp_path, sav, steps=1, save_every=0)))
    assert (denormal * 1.0).item() != 0


def test_recipe_time_budget_leaves_fixed_phases_out():
    """`train_recipe.py --seconds`: phases named by --unscaled (the cool-down) run all their steps;
    the budget is split between the others by cost."""
    recipe = load_script("train_recipe")
    costs, fixed = [48_000.0, 12_000.0, 4_800.0], [False, False, True]
    assert recipe.time_limit(6000.0, costs, fixed, 0) == pytest.approx(4800.0)
    assert recipe.time_limit(1200.0, costs, fixed, 1) == pytest.approx(1200.0)
    assert recipe.time_limit(1200.0, costs, fixed, 2) is None
    assert recipe.time_limit(0.0, costs, fixed, 1) == 1.0  # a phase always gets to start
