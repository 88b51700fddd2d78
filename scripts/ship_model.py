"""Score a finished recipe run and, if it beats the shipped model, install it as the package's default.

    python scripts/make_synthetic_sav.py data/
    python scripts/train_recipe.py runs/recipe ...          # or --start-from src/sam2_hf/pretrained/sam2-hf-synthetic-small
    python scripts/ship_model.py runs/recipe --val data/synthetic_val --twins data/synthetic_val_twins

Scores the run's final model, the model shipped now (if any) and the same architecture untrained
(seeded random weights) on held-out synthetic videos with the paper's protocols (1, 3, 5 first-
frame clicks and the first frame's mask; the twin-distractor subset apart). The run replaces the
shipped model only when its one-click J&F is higher and it keeps the clicked object on the
README's example clip (``sam2_hf.data.example_clip.example_shortfalls``: mean IoU and worst frame,
as ``tests/test_shipped_model.py`` checks; ``--force`` replaces it anyway). ``--checkpoint STEP``
scores and ships the last phase's checkpoint at that step instead (the card says so). The shipped
folder keeps ``training_history.json``: every recipe run that led to it, so a model trained over
several sessions (each continuing from the one shipped) has its whole history in its card.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import sam2_hf
from sam2_hf import Sam2VideoModel
from sam2_hf.data.example_clip import CLICK, clicked_object_ious, example_shortfalls
from sam2_hf.evaluation.model_evaluation import evaluate_model, load_videos
from sam2_hf.inference import VideoSession
from sam2_hf.model_card import write_model_card
from sam2_hf.outputs.folders import replace_folder, restore_interrupted_replace, staging_folder
from sam2_hf.training.config import folder_list
from sam2_hf.training.trainer import load_checkpoint_model

HISTORY = "training_history.json"
REPOSITORY = Path(__file__).resolve().parents[1]


def run_history(run: Path, checkpoint: int | None = None) -> dict:
    """One recipe run as the card lists it: each phase's config, steps, clip length and seconds;
    with ``checkpoint``, its last phase up to that step (steps and the seconds its metrics record
    there), the phase's full length kept as ``checkpoint_of``."""
    summary = json.loads((run / "recipe_summary.json").read_text())
    for phase in summary["phases"]:
        config = json.loads((run / phase["config"] / "training_config.json").read_text())
        phase.update({key: config[key] for key in ("clip_length", "frame_steps", "max_objects", "learning_rate", "schedule",
                                                   "prompt_routing_steps", "image_embedding_rms", "restart_memory",
                                                   "freeze_image_encoder", "freeze_feature_pyramid", "trunk_lr_scale", "reentry_fraction",
                                                   "train_data", "first_frame_correction_clicks")})
    if checkpoint is not None:
        last = summary["phases"][-1]
        with (run / last["config"] / "metrics.csv").open() as handle:
            seconds = next(float(row["seconds"]) for row in csv.DictReader(handle) if int(row["step"]) == checkpoint)
        summary["seconds"] += seconds - last["seconds"]
        last.update(checkpoint_of=last["steps"], steps=checkpoint, seconds=seconds)
    return summary


def checkpoint_folder(phase_dir: Path, step: int) -> Path:
    """A model folder (beside the phase's final ``model``) holding the phase's checkpoint at ``step``."""
    folder = phase_dir / f"model_step_{step}"
    shutil.copytree(phase_dir / "model", folder, dirs_exist_ok=True)  # config, processor config
    load_checkpoint_model(phase_dir, step).save_pretrained(folder)
    return folder


def earlier_history(start_from: str | None, target: Path) -> list[dict]:
    """The runs that led to the model a run started from: that folder's own history (a candidate
    kept outside the package carries one), else the shipped model's; none for a run from scratch."""
    if not start_from:
        return []
    for folder in (REPOSITORY / start_from, target):  # an absolute start_from stays as it is
        if (folder / HISTORY).is_file():
            return json.loads((folder / HISTORY).read_text())
    return []


def repository_relative(history: list[dict]) -> list[dict]:
    """The history with its data paths (validation and training) relative to the repository
    (``data/synthetic_val_mini``), not to the machine that trained it."""
    def relative(path: str) -> str:
        return os.path.relpath(os.path.normpath(path), REPOSITORY) if os.path.isabs(path) else path

    def phase_relative(phase: dict) -> dict:
        if not phase.get("train_data"):
            return phase
        return {**phase, "train_data": [relative(folder) for folder in folder_list(phase["train_data"])]}

    return [{**run, **({"val_data": relative(run["val_data"])} if run.get("val_data") else {}),
             "phases": [phase_relative(phase) for phase in run["phases"]]} for run in history]


def install(final: Path, target: Path, history: list[dict], write_card: Callable[[Path], None]) -> None:
    """Put the model folder ``final`` in ``target`` with its history and card, written beside it
    first and swapped in whole (:func:`~sam2_hf.outputs.folders.replace_folder`): a failure or a
    Ctrl-C on the way leaves the shipped model as it was; one that an earlier install left aside
    is put back first."""
    restore_interrupted_replace(target)
    staging = staging_folder(target)
    shutil.copytree(final, staging)
    (staging / HISTORY).write_text(json.dumps(repository_relative(history), indent=2))
    write_card(staging)
    replace_folder(staging, target)


def data_names(phase: dict) -> list[str]:
    """The names of the folders a phase trained on (one, or several drawn from as one set; a
    folder listed twice is drawn from twice as often)."""
    return [Path(folder).name for folder in folder_list(phase.get("train_data"))]


def describe_data(names: list[str]) -> str:
    """``a`` + 2 x ``b`` for a phase that listed ``b`` twice."""
    counts = {name: names.count(name) for name in names}
    return " + ".join(f"{count} x `{name}`" if count > 1 else f"`{name}`" for name, count in counts.items())


def describe(history: list[dict]) -> str:
    lines = []
    for number, run in enumerate(history, start=1):
        origin = "continuing from the model before" if run.get("start_from") else "from scratch"
        lines.append(f"{number}. {run['date']}, {run['device']}, {origin}, {run['seconds'] / 60:.0f} minutes:")
        for phase in run["phases"]:
            notes = []
            if phase["prompt_routing_steps"]:
                notes.append(f"the first {min(phase['prompt_routing_steps'], phase['steps'])} prompt-routing steps")
            if phase.get("image_embedding_rms"):  # runs before the third recorded neither option
                notes.append(f"image embedding scaled to RMS {phase['image_embedding_rms']:g} first")
            if phase["restart_memory"]:
                notes.append("memory modules restarted as a local lookup first")
            if phase["freeze_image_encoder"]:
                notes.append("image encoder frozen")
            elif phase.get("freeze_feature_pyramid"):  # runs before the fifth recorded neither option
                notes.append(f"image encoder's trunk at {phase['trunk_lr_scale']:g}x the rate, its feature pyramid frozen")
            if phase.get("reentry_fraction"):  # runs before the seventh recorded no such option
                notes.append(f"{phase['reentry_fraction']:.0%} of the clips ones in which an object leaves view and comes back")
            if data_names(phase) not in ([], ["synthetic_train"]):
                notes.append(f"on {describe_data(data_names(phase))}")
            if phase.get("checkpoint_of"):
                notes.append(f"its checkpoint at step {phase['steps']} of {phase['checkpoint_of']}")
            if phase.get("first_frame_correction_clicks"):  # runs before the twelfth recorded no such option
                notes.append(f"0-{phase['first_frame_correction_clicks']} corrective clicks on the first frame after a click or box")
            extra = f" ({'; '.join(notes)})" if notes else ""
            steps = phase.get("frame_steps", [1])
            apart = f" {'-'.join(str(k) for k in sorted(set(steps)))} annotated frames apart" if steps != [1] else ""
            lines.append(f"   - `configs/{phase['config']}.yaml`: {phase['steps']} steps{extra} of clips of "
                         f"{phase['clip_length']} frames{apart}, up to {phase['max_objects']} objects, lr {phase['learning_rate']} "
                         f"({phase['schedule']}), {phase['seconds'] / 60:.1f} minutes")
    return "\n".join(lines)


EXTRA_TRAINING_SETS = {
    "synthetic_train_chasing": "400 more such videos (other seeds) in which half of the distractors follow their "
                               "target's path, crossing and covering it: hard negatives",
    "synthetic_train_variety": "400 more videos with half of the distractors chasing and a wider look: blocky, flat, "
                               "gradient and patterned backgrounds, stars and hexagons, checkered, dotted and ringed textures",
    "synthetic_train_emerging": "400 videos of 16 frames whose distractors start hidden behind their target and come out "
                                "from behind it (the moment a mask spreads onto the look-alike)",
}


def extra_training_data(history: list[dict]) -> str:
    """The card's sentences on the training sets beyond the first, for those a phase used."""
    used = {name for run in history for phase in run["phases"] for name in data_names(phase)}
    return "".join(f"\nPhases marked `{name}` train on {text}." for name, text in EXTRA_TRAINING_SETS.items() if name in used)


def unseen_generator_paragraph(scores: dict[str, dict[str, float]], folder: Path) -> str:
    """The card's lines on clips of a generator the model was not trained on."""
    count = len(load_videos(folder))
    trained, untrained = scores["trained"], scores["untrained"]
    return f"""
Clips of a generator written apart from the training one (`scripts/make_unseen_generator_clips.py`:
{count} clips of bouncing discs, pentagons, triangles and stars with checkered, dotted, gradient or
flat fills on blocky, flat or gradient backgrounds): J&F {trained['1_click']:.3f} from one click,
{trained['mask']:.3f} from the first frame's mask (untrained {untrained['1_click']:.3f} / {untrained['mask']:.3f}).
"""


def readme_example_ious(model: Sam2VideoModel) -> list[float]:
    """IoU per frame of what the README's first command (a click on ``examples/shapes.mp4``)
    gives with ``model``, against the generator's masks: the clip every user runs first."""
    with VideoSession(model, str(REPOSITORY / "examples" / "shapes.mp4")) as session:
        session.add_points(0, 1, [list(CLICK)], [1])
        masks = [result.masks[0].cpu().numpy() for result in session.propagate()]
    return clicked_object_ious(masks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="output folder of scripts/train_recipe.py")
    parser.add_argument("--val", type=Path, default=Path("data/synthetic_val"))
    parser.add_argument("--twins", type=Path, default=Path("data/synthetic_val_twins"))
    parser.add_argument("--unseen", type=Path, default=Path("data/unseen_generator"),
                        help="clips of another generator (scripts/make_unseen_generator_clips.py), scored where present")
    parser.add_argument("--emerging", type=Path, default=Path("data/synthetic_val_emerging"),
                        help="held-out videos whose distractors start hidden behind their target, scored where present")
    parser.add_argument("--max-videos", type=int, default=8)
    parser.add_argument("--checkpoint", type=int, help="ship the last phase's checkpoint at this step, not its final model")
    parser.add_argument("--force", action="store_true", help="install even if it scores below the shipped model")
    args = parser.parse_args()

    target = Path(sam2_hf.DEFAULT_MODEL)
    phase_dir = args.run / json.loads((args.run / "recipe_summary.json").read_text())["phases"][-1]["config"]
    final = phase_dir / "model" if args.checkpoint is None else checkpoint_folder(phase_dir, args.checkpoint)
    candidate = Sam2VideoModel.from_pretrained(final)
    example = readme_example_ious(candidate)
    print(f"README example: mean IoU {np.mean(example):.3f}, per frame {np.round(example, 2).tolist()}", flush=True)
    shortfalls = example_shortfalls(example)
    if shortfalls and not args.force:
        print(f"not installed: on the README example, {'; '.join(shortfalls)}")
        return
    scores = evaluate_model(candidate, args.val, (1, 3, 5), first_frame_mask=True, max_videos=args.max_videos)
    print("trained", scores, flush=True)
    if (target / "config.json").is_file() and not args.force:
        shipped = evaluate_model(Sam2VideoModel.from_pretrained(target), args.val, max_videos=args.max_videos)["1_click"]
        print("shipped", shipped, flush=True)
        if shipped >= scores["1_click"]:
            print(f"not installed: one-click J&F {scores['1_click']:.3f} does not beat the shipped model's {shipped:.3f}")
            return
    torch.manual_seed(0)
    untrained = Sam2VideoModel(candidate.config)
    baseline = evaluate_model(untrained, args.val, (1,), first_frame_mask=True, max_videos=args.max_videos)
    models = {"trained": candidate, "untrained": untrained}
    twins = {name: evaluate_model(model, args.twins, max_videos=args.max_videos)["1_click"] for name, model in models.items()}
    print("untrained", baseline, "twins", twins, flush=True)
    emerging = ""
    if (args.emerging / "JPEGImages_24fps").is_dir():
        hidden = {name: evaluate_model(model, args.emerging, max_videos=args.max_videos)["1_click"] for name, model in models.items()}
        print("emerging look-alikes", hidden, flush=True)
        emerging = f"""
Look-alikes that start hidden behind their target ({len(load_videos(args.emerging, args.max_videos))} videos of
generator seed 10, 48 frames each, `data/synthetic_val_emerging`), one click: {hidden['trained']:.3f}
(untrained {hidden['untrained']:.3f}).
"""
    unseen = ""
    if (args.unseen / "JPEGImages_24fps").is_dir():
        other = {name: evaluate_model(model, args.unseen, (1,), first_frame_mask=True) for name, model in models.items()}
        print("unseen generator", other, flush=True)
        unseen = unseen_generator_paragraph(other, args.unseen)

    run = run_history(args.run, args.checkpoint)
    history = earlier_history(run["start_from"], target)
    history.append(run)

    protocols = {"1_click": "1 click", "3_click": "3 clicks", "5_click": "5 clicks", "mask": "first-frame mask"}
    rows = "\n".join(f"| J&F with {protocols[name]} | {value:.3f} | "
                     f"{f'{baseline[name]:.3f}' if name in baseline else '(not run)'} |" for name, value in scores.items())
    details = f"""## Training

Trained by this package's own pipeline (`scripts/train_recipe.py`, SAM 2's losses) on
`python scripts/make_synthetic_sav.py data/`: 400 synthetic SA-V-format videos of 64 frames,
192x144, three moving objects and two look-alike distractors each (a distractor has its target's
shape and kind of texture, with a stripe colour, the stripe angle or frequency, or the size
changed); a quarter of the objects are plain, a fifth in colours close to the background's.{extra_training_data(history)}
{len(history)} training run(s), each continuing from the one before (minutes are wall clock; other work
may have shared the cores):

{describe(history)}

It knows only these synthetic videos: it follows textured shapes, not real-world objects. Use
`facebook/sam2.1-hiera-*` for real videos.

## Evaluation

{len(load_videos(args.val, args.max_videos))} held-out synthetic videos (generator seed 2, 96 frames each, annotated every 4th
frame), scored as the SA-V evaluator scores (first and last annotated frames left out), with
simulated clicks at the centre of the largest error on the first frame:

| protocol | this model | untrained (same architecture) |
|---|---|---|
{rows}

Exact-twin distractors (a hard subset, outside the goal: {len(load_videos(args.twins, args.max_videos))} videos of generator seed
4 whose distractors are exact copies of their targets), one click: {twins['trained']:.3f}
(untrained {twins['untrained']:.3f}).
{emerging}
The goal is J&F >= 0.80 from one first-frame click; this model is at {scores['1_click']:.3f}.
Reproduce with `sam2-hf evaluate data/synthetic_val --clicks 1 3 5 --first-frame-mask --max-videos {args.max_videos}`.
{unseen}"""
    num_values = sum(t.numel() for t in candidate.state_dict().values())
    install(final, target, history, lambda folder: write_model_card(
        folder, candidate.config, "Sam2VideoModel", num_values,
        origin="A small SAM 2 trained on synthetic videos: the offline default of `sam2_hf`.", details=details,
        name=target.name))
    print(f"installed in {target}")


if __name__ == "__main__":
    main()
