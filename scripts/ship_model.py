"""Score a finished training run and install its model as the package's default.

    python scripts/ship_model.py runs/shipped_model --earlier runs/shipped_model_phase0 runs/shipped_model_phase1 \
        runs/shipped_model_phase2 runs/shipped_model_phase3 runs/shipped_model_phase4 runs/shipped_model_phase5 \
        runs/shipped_model_phase6 --val data/synthetic_val

Scores the trained model and the same architecture untrained (seeded random weights) with the
paper's protocols (1, 3, 5 first-frame clicks and the first frame's mask) on held-out synthetic
videos, then copies the model to src/sam2_hf/pretrained/sam2-hf-synthetic-small with a model
card that records the data, steps, time and these numbers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

import sam2_hf
from sam2_hf import Sam2VideoModel
from sam2_hf.evaluation.model_evaluation import evaluate_model
from sam2_hf.model_card import write_model_card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="output folder of the (last) training run")
    parser.add_argument("--earlier", type=Path, nargs="*", default=[],
                        help="output folders of the runs the last one continued from, in order (each made by "
                        "configs/<folder name>.yaml)")
    parser.add_argument("--val", type=Path, default=Path("data/synthetic_val"))
    parser.add_argument("--max-videos", type=int, default=8)
    args = parser.parse_args()

    trained = Sam2VideoModel.from_pretrained(args.run / "model")
    torch.manual_seed(0)
    untrained = Sam2VideoModel(trained.config)
    started = time.time()
    scores = evaluate_model(trained, args.val, (1, 3, 5), first_frame_mask=True, max_videos=args.max_videos)
    baseline = evaluate_model(untrained, args.val, (1,), first_frame_mask=True, max_videos=args.max_videos)
    print("trained", scores, "untrained", baseline, f"({time.time() - started:.0f} s)")

    lines, processes = [], set()
    for number, run in enumerate([*args.earlier, args.run], start=1):
        summary = json.loads((run / "training_summary.json").read_text())
        processes.add(summary["num_processes"])
        config = json.loads((run / "training_config.json").read_text())
        routing_steps = config.get("prompt_routing_steps", 0)
        notes = f" (the first {routing_steps} of them prompt-routing steps)" if routing_steps else ""
        if config.get("restart_memory"):
            notes += ", memory modules restarted as a local lookup first"
        if config.get("freeze_image_encoder"):
            notes += ", image encoder frozen"
        lines.append(f"{number}. `configs/{run.name}.yaml`: {summary['steps']} steps{notes} of "
                     f"{summary['num_processes']} clips of {config['clip_length']} annotated frames (up to {config['max_objects']} "
                     f"objects each, first-frame prompt mix {config['prompt_mix']}, corrections on "
                     f"{config['num_correction_frames']} frame(s)), AdamW lr {config['learning_rate']} (layer decay "
                     f"{config['layer_decay']}, {config['schedule']}), {summary['seconds'] / 60:.0f} minutes.")
    target = Path(sam2_hf.DEFAULT_MODEL)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(args.run / "model", target)
    num_values = sum(t.numel() for t in trained.state_dict().values())
    rows = "\n".join(f"| J&F with {name.replace('_', ' ')} | {value:.3f} | {baseline.get(name, float('nan')):.3f} |"
                     for name, value in scores.items()).replace("J&F with mask", "J&F with first-frame mask")
    steps = "\n".join(lines)
    launch = ("`sam2-hf train CONFIG`, one process" if processes == {1} else
              f"`accelerate launch --num_processes N scripts/train.py CONFIG`, {sorted(processes)} processes")
    details = f"""## Training

Trained from scratch by this package's own pipeline, on two CPU cores ({launch}), with SAM 2's
losses, on `python scripts/make_synthetic_sav.py data/`
(200 synthetic SA-V-format videos of 64 frames, 192x144, three textured moving objects and two
look-alike distractors each):

{steps}

It knows only these synthetic videos: it follows textured shapes, not real-world objects. Use
`facebook/sam2.1-hiera-*` for real videos.

## Evaluation

{args.max_videos} held-out synthetic videos (generator seed 2, 96 frames each, annotated every 4th
frame), scored as the SA-V evaluator scores (first and last annotated frames left out), with
simulated clicks at the centre of the largest error on the first frame:

| protocol | this model | untrained (same architecture) |
|---|---|---|
{rows}

Reproduce with `sam2-hf evaluate data/synthetic_val --clicks 1 3 5 --first-frame-mask --max-videos {args.max_videos}`.
"""
    write_model_card(target, trained.config, "Sam2VideoModel", num_values,
                     origin="A small SAM 2 trained on synthetic videos: the offline default of `sam2_hf`.", details=details)
    print(f"installed in {target}")


if __name__ == "__main__":
    main()
