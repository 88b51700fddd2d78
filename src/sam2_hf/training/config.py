"""What a training run does, as one file (YAML or JSON) that ``scripts/train.py`` and
``sam2-hf train`` take."""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Literal, get_args, get_type_hints

import yaml


def folder_list(train_data: str | Sequence[str] | None) -> list[str]:
    """``train_data`` (one folder or several, as a config or a run's history holds it) as a list."""
    if not train_data:
        return []
    return [train_data] if isinstance(train_data, str) else list(train_data)


@dataclass
class TrainingConfig:
    """Fields of a training run.

    Args:
        train_data: a SA-V / DAVIS-layout folder (see :func:`sam2_hf.data.load_sav`), or a list
            of them, whose videos are drawn from as one set (several looks in one run, so that
            learning a new one does not unlearn the others).
        output_dir: checkpoints, logs and the final model go here.
        model: a preset name (``sam2.1-hiera-tiny``), a dict of :class:`~sam2_hf.Sam2Config`
            fields, or a checkpoint to fine-tune (folder, Hub id or official ``.pt``).
        val_data: held-out videos in the val/test layout for J&F during training.
        steps: optimizer steps.
        clips_per_step: clips each process takes per optimizer step, their gradients averaged
            (gradient accumulation): one clip of a few objects is a noisy step.
        clip_length: annotated frames per clip (8 in the paper).
        frame_steps: a clip takes every ``k``-th annotated frame, ``k`` drawn from these for each
            clip. 1 is SAM 2's choice on SA-V's 6 fps annotations; on videos annotated at every
            frame (the synthetic training set) steps of 1-2 are the motion a tracker sees at 24
            fps and 4 that of 6 fps.
        reentry_fraction: share of the clips drawn among those in which an object leaves view and
            comes back (that object among the clip's): uniformly drawn clips rarely hold one, and
            finding an object again after it was gone is what a tracker must learn from them.
        max_objects: objects tracked together per clip.
        learning_rate, weight_decay: AdamW's.
        layer_decay: the image encoder's block ``i`` of ``n`` learns at
            ``learning_rate * layer_decay ** (n - i)`` (earlier blocks change less).
        trunk_lr_scale: multiplies the learning rate of the image encoder's trunk, on top of
            ``layer_decay``: a trained model's features adapt slowly.
        warmup_steps: linear warm-up, then ``schedule``: "cosine" (to 0 at ``steps``), "rsqrt"
            (reciprocal square root) or "constant". With "rsqrt" or "constant" no step depends on
            ``steps``, so a run can be stopped, given more ``steps`` and resumed, the same run as
            if it had been asked for them from the start (then cool it down in a short cosine run).
        grad_clip: maximum gradient norm.
        mixed_precision: Accelerate's ``"no"``, ``"bf16"`` or ``"fp16"``.
        freeze_image_encoder: train everything but the image encoder.
        freeze_feature_pyramid: train everything but the image encoder's feature pyramid (the
            convolutions that make the embedding out of the trunk's stages). After
            ``image_embedding_rms`` scaled them down, AdamW's steps (about the learning rate,
            whatever a weight's size) would grow them back; the trunk can then still learn.
        train_only_memory_and_decoder: train only memory attention, memory encoder and the
            mask decoder (and their small parameters).
        prompt_mix: probabilities of a mask / click / box prompt on the first frame.
        num_correction_frames, correction_clicks: simulated corrections per clip.
        first_frame_correction_clicks: up to this many corrective clicks on frame 0 after a click
            or box prompt (see :class:`~sam2_hf.training.clip_model.ClipTrainingModel`).
        prompt_routing_steps: the first steps train only the prompt encoder and mask decoder, on
            features that say which object each cell shows (see
            :mod:`sam2_hf.training.clip_model`): a model trained from scratch needs them to learn
            to follow clicks; fine-tuning a trained model does not.
        restart_memory: before the first step, re-initialise memory attention and the memory
            encoder as a local lookup (see :mod:`sam2_hf.training.memory_restart`): a model
            trained from scratch on prompted frames needs it to start tracking.
        memory_attention_dropout: replaces the model's memory-attention dropout for this run
            (SAM 2 trains with 0.1; None keeps the model's). With 0 attention runs as one fused
            kernel: on CPU a step of 8-frame clips of the shipped small model took 1.0 s
            instead of 1.2 s, the dropout masks of every attention map no longer drawn.
        image_embedding_rms: before the first step, scale the image embedding to this RMS on
            the first clip's frames (see :mod:`sam2_hf.training.embedding_scale`); train with
            ``freeze_image_encoder`` then, or it grows back. The shipped small model's had grown
            from 0.7 to 77 and drowned its memory.
        max_seconds: stop after the first step that ends past this much training time (counted
            across resumes), saving the model as at the end; None trains all ``steps``. With the
            "constant" or "rsqrt" schedule the run can then be resumed with a larger limit.
        save_every, eval_every, log_every: in steps (0 disables saving / evaluation).
        keep_checkpoints: how many of the latest checkpoints to keep.
        seed: seeds the model's initialisation, the clips and the simulated prompts.
    """

    train_data: str | list[str]
    output_dir: str
    model: Any = "sam2.1-hiera-tiny"
    val_data: str | None = None
    steps: int = 1000
    clips_per_step: int = 1
    clip_length: int = 8
    frame_steps: list[int] = field(default_factory=lambda: [1])
    reentry_fraction: float = 0.0
    max_objects: int = 3
    learning_rate: float = 5e-4
    weight_decay: float = 0.1
    layer_decay: float = 0.9
    trunk_lr_scale: float = 1.0
    warmup_steps: int = 50
    schedule: Literal["cosine", "rsqrt", "constant"] = "cosine"
    grad_clip: float = 0.1
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    freeze_image_encoder: bool = False
    freeze_feature_pyramid: bool = False
    train_only_memory_and_decoder: bool = False
    prompt_mix: dict = field(default_factory=lambda: {"mask": 0.5, "click": 0.25, "box": 0.25})
    num_correction_frames: int = 2
    correction_clicks: int = 3
    first_frame_correction_clicks: int = 0
    prompt_routing_steps: int = 0
    restart_memory: bool = False
    memory_attention_dropout: float | None = None
    image_embedding_rms: float | None = None
    max_seconds: float | None = None
    save_every: int = 100
    eval_every: int = 0
    log_every: int = 10
    keep_checkpoints: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for name in ("schedule", "mixed_precision"):
            allowed = get_args(hints[name])
            if getattr(self, name) not in allowed:
                raise ValueError(f"training option {name}: {getattr(self, name)!r} is not one of {list(allowed)}")
        if self.clips_per_step < 1:
            raise ValueError(f"training option clips_per_step: {self.clips_per_step!r} is not at least 1")

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "TrainingConfig":
        """Read a YAML or JSON file; relative data, output and checkpoint (``./``, ``../``) paths are
        taken relative to it."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"training config not found: {path}")
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path} must hold a mapping of training options")
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training options in {path}: {sorted(unknown)}")
        def beside_config(value: str) -> str:
            return value if Path(value).is_absolute() else str(path.parent / value)

        for key in ("train_data", "val_data", "output_dir"):
            if isinstance(values.get(key), list):
                values[key] = [beside_config(value) for value in values[key]]
            elif values.get(key) is not None:
                values[key] = beside_config(values[key])
        model = values.get("model")
        if isinstance(model, str) and model.startswith(".") and not Path(model).is_absolute():
            values["model"] = str(path.parent / model)  # a checkpoint next to the config
        values.update({k: v for k, v in overrides.items() if v is not None})  # command-line paths: from the cwd
        missing = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING} - set(values)
        if missing:
            raise ValueError(f"{path} lacks the training options {sorted(missing)}")
        return cls(**values)

    @property
    def train_folders(self) -> list[str]:
        """``train_data`` as a list of folders."""
        return folder_list(self.train_data)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)
