"""Run the shipped model's whole recipe, phase after phase, optionally shortened and in a time budget.

    python scripts/train_recipe.py runs/recipe                       # the recipe as written
    python scripts/train_recipe.py runs/recipe --steps-scale 0.25 --seconds 1800 --seed-offset 1

Each phase is one of `configs/shipped_model_phase*.yaml` (then `configs/shipped_model.yaml`),
trained into RUN/<config name>/ from the model the phase before made. `--steps-scale` scales
every phase's steps (but those named by `--unscaled`, which run all their steps, outside any time
budget: a cool-down cut short would end at a high learning rate); `--seconds` splits a total time
budget between the other phases in proportion to their cost (steps x clip frames), handing time a
phase did not use to the ones after it, and stops a phase that runs out (`max_seconds`). With `--fill-phase NAME` that phase (a constant
learning rate) is not scaled and runs until the time left is what the phases after it need at
the speed the phase before it ran. `--seed-offset` gives a run its own initialisation,
clips and prompts, so several runs can be compared. Each phase resumes if RUN already holds it.
At the end the final model is scored on the recipe's validation set (J&F from one click) and
RUN/recipe_summary.json records every phase's steps and seconds and that score.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from sam2_hf import Sam2VideoModel
from sam2_hf.evaluation.model_evaluation import evaluate_model
from sam2_hf.training import TrainingConfig, train

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PHASES = [f"shipped_model_phase{i}" for i in range(10)] + ["shipped_model"]
ROUTING_STEP_COST = 0.25  # a prompt-routing step, in clip frames: one frame, no image encoder


def phase_cost(config: TrainingConfig) -> float:
    routing = min(config.prompt_routing_steps, config.steps)
    return routing * ROUTING_STEP_COST + (config.steps - routing) * config.clip_length


def budgeted_cost(costs: list[float], fixed: list[bool], start: int) -> float:
    """What the phases from ``start`` on cost that the time budget pays for (not the fixed ones)."""
    return sum(cost for cost, is_fixed in zip(costs[start:], fixed[start:]) if not is_fixed)


def time_limit(remaining: float, costs: list[float], fixed: list[bool], index: int) -> float | None:
    """Phase ``index``'s ``max_seconds`` when ``remaining`` seconds of the budget are left: its
    cost's share of what the budgeted phases from it on cost; None for a fixed phase."""
    if fixed[index]:
        return None
    return max(1.0, remaining * costs[index] / budgeted_cost(costs, fixed, index))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="folder for every phase's run")
    parser.add_argument("--phases", nargs="*", default=PHASES, help="config names, in order (default: all)")
    parser.add_argument("--start-from", help="model the first phase continues from (default: its config's)")
    parser.add_argument("--steps-scale", type=float, default=1.0)
    parser.add_argument("--unscaled", nargs="*", default=[], help="phases that keep their full steps")
    parser.add_argument("--seconds", type=float, help="time budget for all phases together")
    parser.add_argument("--fill-phase", help="with --seconds: the constant-rate phase that takes the time the others leave")
    parser.add_argument("--seed-offset", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"[{args.run.name}] %(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)

    configs, costs = [], []
    for index, name in enumerate(args.phases):
        overrides = {"output_dir": str(args.run / name), "eval_every": 0}
        if index > 0:
            overrides["model"] = str(args.run / args.phases[index - 1] / "model")
        elif args.start_from:
            overrides["model"] = args.start_from
        config = TrainingConfig.from_file(CONFIGS / f"{name}.yaml", **overrides)
        scale = 1.0 if name in args.unscaled else args.steps_scale
        config.steps = max(1, round(config.steps * scale))
        config.prompt_routing_steps = round(config.prompt_routing_steps * scale)
        config.warmup_steps = min(config.warmup_steps, config.steps // 4)
        config.save_every = min(config.save_every, config.steps) if config.save_every else 0
        config.seed += args.seed_offset * 1000
        costs.append(phase_cost(config))  # a fill phase's nominal cost: its scaled steps
        if name == args.fill_phase:
            if args.seconds is None or config.schedule != "constant" or index == 0:
                parser.error("--fill-phase needs --seconds and a later phase with the constant schedule")
            config.steps = 10**7  # max_seconds ends it
        configs.append((name, config))

    fixed = [name in args.unscaled for name, _ in configs]
    phases, speed, budget_used = [], 0.0, 0.0
    for index, (name, config) in enumerate(configs):
        if args.seconds is not None:
            remaining = args.seconds - budget_used
            if name == args.fill_phase:  # leave the later budgeted phases their time at the last phase's speed
                config.max_seconds = max(1.0, remaining - 1.25 * budgeted_cost(costs, fixed, index + 1) / speed)
            else:
                config.max_seconds = time_limit(remaining, costs, fixed, index)
        phase_started = time.time()
        final = train(config)
        if not fixed[index]:
            budget_used += time.time() - phase_started
        # The run's own count: a phase resumed from an earlier session's checkpoint counts all of its time.
        summary = json.loads((Path(config.output_dir) / "training_summary.json").read_text())
        steps, seconds = summary["steps"], summary["seconds"]
        planned = config.steps
        config.steps = steps
        speed = phase_cost(config) / max(seconds, 1e-3)
        phases.append({"config": name, "steps": steps, "planned_steps": planned, "seconds": round(seconds, 1)})
        logging.info("%s: %d of %d steps in %.0f s", name, steps, planned, seconds)
    val_data = configs[-1][1].val_data
    score = None
    if val_data:
        model = Sam2VideoModel.from_pretrained(final).to("cuda" if torch.cuda.is_available() else "cpu")
        score = evaluate_model(model, val_data)["1_click"]
        logging.info("final model: val J&F from one click %.3f", score)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} threads"
    # Training time of the phases (resumed ones counted whole), not this call's wall clock.
    result = {"date": time.strftime("%Y-%m-%d"), "device": device, "start_from": args.start_from, "phases": phases,
              "seconds": round(sum(phase["seconds"] for phase in phases), 1), "val_data": val_data, "val_jf_1_click": score,
              "seed_offset": args.seed_offset, "steps_scale": args.steps_scale}
    (args.run / "recipe_summary.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
