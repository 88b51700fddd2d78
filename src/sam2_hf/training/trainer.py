"""The training loop, with Accelerate: one process or several, CPU or GPU, exact resume.

``train(config)`` builds the model, optimizer (AdamW, layer-wise decay on the image encoder) and
schedule (warm-up then cosine or reciprocal square root), streams clips from the dataset, and
every ``save_every`` steps saves Accelerate's full state (weights, optimizer, schedule, RNGs)
plus the step count. Started again with the same ``output_dir``, it resumes from the latest
checkpoint and reproduces the uninterrupted run: clips and prompts are functions of the step.
Metrics go to the console, ``metrics.csv`` and TensorBoard (when installed); the final model is
a ``save_pretrained`` folder with its model card.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import logging
import math
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..configuration import PRESETS, Sam2Config
from ..data.sav import load_sav
from ..evaluation.model_evaluation import evaluate_model
from ..model_card import write_model_card
from ..modeling.video_model import Sam2VideoModel
from ..processing.image_processor import Sam2ImageProcessor
from ..processing.processor import Sam2Processor
from .clip_model import ClipTrainingModel
from .clips import ClipDataset
from .config import TrainingConfig
from .embedding_scale import set_image_embedding_rms
from .losses import LossWeights
from .memory_restart import restart_memory
from .prompts import PromptMix

logger = logging.getLogger(__name__)
CHECKPOINT_PATTERN = re.compile(r"step_(\d+)$")
MEMORY_AND_DECODER = ("memory_attention", "memory_encoder", "mask_decoder", "object_pointer", "memory_temporal_encoding",
                      "no_memory", "no_object", "mask_prompt_downsample")


def load_model(config: TrainingConfig) -> Sam2VideoModel:
    """A fresh model from a preset name or config fields, or a checkpoint to fine-tune."""
    torch.manual_seed(config.seed)
    if isinstance(config.model, dict):
        return Sam2VideoModel(Sam2Config(**config.model))
    if config.model in PRESETS:
        return Sam2VideoModel(Sam2Config.from_preset(config.model))
    return Sam2VideoModel.from_pretrained(config.model)


def prepare_model(model: Sam2VideoModel, config: TrainingConfig, first_frames: torch.Tensor | None = None) -> Sam2VideoModel:
    """What the config changes before the first step, in place: the image embedding's scale
    (measured on ``first_frames``, the first clip's), then a memory restart (fresh memory modules
    must not inherit the rescale's compensation), then the memory-attention dropout."""
    if config.image_embedding_rms is not None:
        if first_frames is None:
            raise ValueError("image_embedding_rms needs a step on real frames to measure (all steps are prompt-routing steps)")
        factor = set_image_embedding_rms(model, first_frames, config.image_embedding_rms)
        logger.info("image embedding scaled by %.4g to RMS %g", factor, config.image_embedding_rms)
    if config.restart_memory:
        restart_memory(model, config.seed)
    if config.memory_attention_dropout is not None:
        model.config.memory_config.dropout = config.memory_attention_dropout
        model.memory_attention.set_dropout(config.memory_attention_dropout)
    return model


def parameter_groups(model: Sam2VideoModel, config: TrainingConfig) -> list[dict]:
    """AdamW groups: layer-wise decayed learning rates in the image encoder, no weight decay on
    biases, norms and embeddings; frozen parameters left out."""
    if config.freeze_image_encoder or config.train_only_memory_and_decoder:
        model.vision_encoder.requires_grad_(False)
    if config.freeze_feature_pyramid:
        model.vision_encoder.neck.requires_grad_(False)
    if config.train_only_memory_and_decoder:
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name.startswith(MEMORY_AND_DECODER))
    num_blocks = len(model.vision_encoder.trunk.blocks)
    groups: dict[tuple[float, float], list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        scale = config.trunk_lr_scale if name.startswith("vision_encoder.trunk.") else 1.0
        block = re.match(r"vision_encoder\.trunk\.blocks\.(\d+)\.", name)
        if block:
            scale *= config.layer_decay ** (num_blocks - int(block.group(1)))
        elif name.startswith("vision_encoder.trunk."):  # patch and position embeddings come first
            scale *= config.layer_decay ** (num_blocks + 1)
        decay = 0.0 if parameter.ndim <= 1 or "embed" in name or "embedding" in name else config.weight_decay
        groups.setdefault((scale, decay), []).append(parameter)
    return [{"params": params, "lr": config.learning_rate * scale, "weight_decay": decay}
            for (scale, decay), params in groups.items()]


def learning_rate_factor(step: int, config: TrainingConfig) -> float:
    """Linear warm-up to 1, then cosine to 0, reciprocal square root or constant."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return 1.0
    if config.schedule == "rsqrt":
        return math.sqrt(max(config.warmup_steps, 1) / (step + 1))
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def latest_checkpoint(output_dir: Path) -> tuple[Path, int] | None:
    """The newest complete checkpoint (a run killed while saving leaves one without its state file)."""
    found = [(p.parent, int(m.group(1))) for p in (output_dir / "checkpoints").glob("step_*/trainer_state.json")
             if (m := CHECKPOINT_PATTERN.search(p.parent.name))]
    return max(found, key=lambda item: item[1]) if found else None


def load_checkpoint_model(output_dir: Path, step: int) -> Sam2VideoModel:
    """The model a finished run's checkpoint at ``step`` holds, on the architecture of its final
    model: to ship or compare a checkpoint before the last (a run keeps its newest `keep_checkpoints`)."""
    folder = output_dir / "checkpoints" / f"step_{step:07d}"
    if not (folder / "model.safetensors").is_file():
        kept = sorted(int(m.group(1)) for p in (output_dir / "checkpoints").glob("step_*") if (m := CHECKPOINT_PATTERN.search(p.name)))
        raise FileNotFoundError(f"{output_dir} has no checkpoint at step {step}; it keeps steps {kept}")
    from safetensors.torch import load_file

    model = Sam2VideoModel.from_pretrained(output_dir / "model")
    # The checkpoint holds the training wrapper (ClipTrainingModel), whose model is `model.`.
    weights = {name.removeprefix("model."): value for name, value in load_file(folder / "model.safetensors").items()}
    model.load_state_dict(weights)
    return model.eval()


def train(config: TrainingConfig) -> Path:
    """Run (or resume) a training run; returns the folder of the final model."""
    with _denormals_flushed():
        return _train(config)


@contextlib.contextmanager
def _denormals_flushed():
    """Values below float32's normal range (denormals, as fading gradients reach) take the CPU's
    slow path: flushed to zero, a step of the shipped small model's 8-frame clips took 1.2 s, not
    2.4 s. Torch's default (off) is back afterwards."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _train(config: TrainingConfig) -> Path:
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.utils import set_seed

    output_dir = Path(config.output_dir)
    log_with = "tensorboard" if _has_tensorboard() else None
    # cpu=True on a machine without CUDA makes several launched processes one gloo data-parallel group.
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=config.mixed_precision,
                              log_with=log_with, project_dir=str(output_dir),
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
                              # The schedule counts optimizer steps, whatever the number of processes.
                              step_scheduler_with_optimizer=False)
    set_seed(config.seed)
    model = load_model(config)
    processor = Sam2ImageProcessor(model.config.image_size, model.config.image_mean, model.config.image_std)
    videos = load_sav(config.train_data)
    # Step s, clip c of process p is sample (s * clips_per_step + c) * num_processes + p.
    samples_per_step = config.clips_per_step * accelerator.num_processes
    clips = ClipDataset(videos, processor, num_samples=config.steps * samples_per_step, clip_length=config.clip_length,
                        max_objects=config.max_objects, seed=config.seed,
                        frames_from=config.prompt_routing_steps * samples_per_step, frame_steps=config.frame_steps,
                        reentry_fraction=config.reentry_fraction)
    first_frames = clips[min(clips.frames_from, len(clips) - 1)]["pixel_values"] if config.image_embedding_rms else None
    prepare_model(model, config, first_frames)  # before a resumed run's weights are loaded over it
    loader = DataLoader(clips, batch_size=1, shuffle=False, collate_fn=lambda batch: batch[0])
    module = ClipTrainingModel(model, PromptMix(**config.prompt_mix), config.num_correction_frames,
                               config.correction_clicks, LossWeights(), config.first_frame_correction_clicks)
    optimizer = torch.optim.AdamW(parameter_groups(model, config))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, config))
    module, optimizer, loader, scheduler = accelerator.prepare(module, optimizer, loader, scheduler)

    start_step = 0
    resume = latest_checkpoint(output_dir)
    if resume is not None:
        accelerator.load_state(str(resume[0]))
        start_step = resume[1]
        logger.info("resumed from %s (step %d)", resume[0], start_step)
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "training_config.json").write_text(config.to_json())
    if log_with and accelerator.is_main_process:
        accelerator.init_trackers("train")
    metrics_file = output_dir / "metrics.csv"
    # Drop the rows an interrupted run logged after its checkpoint (all of them if it saved none);
    # the clock goes on from the last row kept.
    seconds_logged = _truncate_csv(metrics_file, start_step) if accelerator.is_main_process else 0.0
    started = time.monotonic() - seconds_logged
    progress = tqdm(total=config.steps, initial=start_step, desc="training", unit="step",
                    disable=not accelerator.is_main_process)
    module.train()
    step = start_step
    batches = iter(accelerator.skip_first_batches(loader, start_step * config.clips_per_step))
    while step < config.steps:
        losses = {}
        for clip_index in range(config.clips_per_step):
            batch = next(batches)
            # Dropout draws from torch's global generator: seed it from the clip's number, so a
            # resumed run draws what the uninterrupted one did (whatever consumed random numbers
            # in between).
            number = step * config.clips_per_step + clip_index
            torch.manual_seed(int(np.random.SeedSequence([config.seed, number, accelerator.process_index]).generate_state(1)[0]))
            # Data-parallel replicas average their gradients once, after the step's last clip.
            last = clip_index == config.clips_per_step - 1
            with contextlib.nullcontext() if last else accelerator.no_sync(module):
                with accelerator.autocast():
                    clip_losses = module(batch["pixel_values"], batch["targets"], batch["seed"],
                                         prompt_routing=step < config.prompt_routing_steps)
                accelerator.backward(clip_losses["loss"] / config.clips_per_step)
            for name, value in clip_losses.items():
                losses[name] = losses.get(name, 0) + value.detach() / config.clips_per_step
        if config.grad_clip:
            accelerator.clip_grad_norm_(module.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        progress.update()
        row = {"step": step, "lr": max(scheduler.get_last_lr()), "seconds": round(time.monotonic() - started, 2),
               **{name: float(accelerator.reduce(value.detach(), "mean")) for name, value in losses.items()}}
        row["val_jf_1_click"] = None
        if config.eval_every and config.val_data and step % config.eval_every == 0 and accelerator.is_main_process:
            row["val_jf_1_click"] = evaluate_model(accelerator.unwrap_model(module).model, config.val_data)["1_click"]
        if accelerator.is_main_process:
            _append_csv(metrics_file, row)
            if log_with:
                accelerator.log({k: v for k, v in row.items() if k != "step" and v is not None}, step=step)
            if step % config.log_every == 0 or step == config.steps:
                logger.info("step %d: %s", step, ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "step" and v is not None))
        out_of_time = config.max_seconds is not None and _any_process(accelerator, time.monotonic() - started > config.max_seconds)
        if config.save_every and (step % config.save_every == 0 or step == config.steps or out_of_time):
            _save_checkpoint(accelerator, output_dir, step, config.keep_checkpoints)
        if out_of_time:
            logger.info("stopping at step %d of %d: max_seconds (%s) reached", step, config.steps, config.max_seconds)
            break
    progress.close()
    accelerator.wait_for_everyone()
    # Data-parallel replicas must end with the same weights; record each one's checksum.
    trained = accelerator.unwrap_model(module).model
    checksum = torch.tensor([sum(float(p.detach().double().sum()) for p in trained.parameters())], dtype=torch.float64)
    checksums = accelerator.gather(checksum.to(accelerator.device)).tolist()
    final = output_dir / "model"
    if accelerator.is_main_process:
        summary = {"steps": step, "seconds": round(time.monotonic() - started, 1), "num_processes": accelerator.num_processes,
                   "weight_checksums": checksums}
        (output_dir / "training_summary.json").write_text(json.dumps(summary, indent=2))
        if len(set(checksums)) > 1:
            logger.error("the processes ended with different weights: %s", checksums)
        trained.save_pretrained(final)
        Sam2Processor.from_config(trained.config).save_pretrained(final)
        num_values = sum(t.numel() for t in trained.state_dict().values())
        write_model_card(final, trained.config, "Sam2VideoModel", num_values,
                         origin=f"Trained by `sam2-hf train` for {step} steps on "
                                f"{', '.join(f'`{Path(folder).name}`' for folder in config.train_folders)}.")
    # Leave together: a rank that tears the process group down (end_training does) while the main
    # one is still saving left, once in three CI runs, a process that never exited.
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return final


def _any_process(accelerator, flag: bool) -> bool:
    """True on every process when ``flag`` is true on one (processes must stop at the same step)."""
    if accelerator.num_processes == 1:
        return flag
    return bool(accelerator.reduce(torch.tensor([float(flag)], device=accelerator.device), "sum").item())


def _save_checkpoint(accelerator, output_dir: Path, step: int, keep: int) -> None:
    folder = output_dir / "checkpoints" / f"step_{step:07d}"
    accelerator.save_state(str(folder))
    if accelerator.is_main_process:
        (folder / "trainer_state.json").write_text(json.dumps({"step": step}))
        checkpoints = sorted((output_dir / "checkpoints").glob("step_*"))
        for old in checkpoints[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _truncate_csv(path: Path, last_step: int) -> float:
    """Keep the rows of ``path`` up to ``last_step``; returns the training time the last one records."""
    if not path.exists():
        return 0.0
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fieldnames = reader.fieldnames or []
        rows = [row for row in reader if int(row["step"]) <= last_step]
    if not rows:
        path.unlink()
        return 0.0
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return float(rows[-1]["seconds"])


def _has_tensorboard() -> bool:
    return importlib.util.find_spec("tensorboard") is not None
