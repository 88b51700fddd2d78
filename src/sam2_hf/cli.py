"""The ``sam2-hf`` command line.

Subcommands: ``track`` (objects through a video from clicks, boxes or masks), ``auto`` (every
object of a frame, tracked), ``segment`` (an image from clicks or a box), ``convert`` (any
supported checkpoint layout to ours), ``evaluate`` (J&F of mask folders, or of a model on a
dataset), ``train``, ``demo`` (the Gradio app) and ``benchmark`` (speed and memory next to the
reference implementations). Errors are reported on one line, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import benchmark
from .configuration import Sam2Config
from .loading import load_model
from .model_card import write_model_card
from .modeling import Sam2Model, Sam2VideoModel
from .outputs import overlay_masks
from .processing import Sam2Processor

logger = logging.getLogger("sam2_hf")


def _parse_point(text: str) -> tuple[float, float, int]:
    """``x,y`` or ``x,y,label`` (label 1 positive, 0 negative)."""
    parts = text.split(",")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"a point is x,y or x,y,label; got {text!r}")
    try:
        x, y = float(parts[0]), float(parts[1])
        label = int(parts[2]) if len(parts) == 3 else 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"a point is x,y or x,y,label with numbers; got {text!r}") from None
    if label not in (0, 1):
        raise argparse.ArgumentTypeError(f"a point label is 1 (positive) or 0 (negative); got {label}")
    return x, y, label


def _parse_box(text: str) -> list[float]:
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4:
        raise argparse.ArgumentTypeError(f"a box is x0,y0,x1,y1; got {text!r}")
    return box


def _device(args: argparse.Namespace) -> torch.device:
    if args.device:
        return torch.device(args.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


COMPILE_HELP = "torch.compile the image encoder first (for GPUs: up to a minute of compiling, no faster on CPUs)"


def _dtype(name: str | None) -> torch.dtype | None:
    return None if name in (None, "float32") else getattr(torch, name)


def segment(args: argparse.Namespace) -> None:
    from .pipelines import ImageMaskGenerationPipeline
    from .pipelines.image_mask_generation import load_image

    image = load_image(args.image)
    if not args.point and not args.box:
        raise ValueError("give at least one --point x,y[,label] or a --box x0,y0,x1,y1")
    pipe = ImageMaskGenerationPipeline(model=load_model(args.model), device=_device(args))
    points = [[x, y] for x, y, _ in args.point] if args.point else None
    labels = [label for _, _, label in args.point] if args.point else None
    result = pipe(image, points=points, labels=labels, box=args.box)
    mask, score = result["masks"][0], float(result["scores"][0])
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(overlay_masks(image, mask[None])).save(output)
    if args.mask_output:
        Image.fromarray((mask * 255).astype(np.uint8)).save(args.mask_output)
    print(f"mask of {int(mask.sum())} pixels ({mask.mean():.1%} of the image), predicted IoU {score:.3f}; overlay written to {output}")


def convert(args: argparse.Namespace) -> None:
    model_class = Sam2Model if args.image_only else Sam2VideoModel
    config = Sam2Config.from_preset(args.preset) if args.preset else None
    model = model_class.from_pretrained(args.source, config=config)
    model.save_pretrained(args.output)
    Sam2Processor.from_config(model.config).save_pretrained(args.output)
    num_values = sum(t.numel() for t in model.state_dict().values())
    write_model_card(args.output, model.config, model_class.__name__, num_values, origin=f"Converted from `{Path(args.source).name}`.")
    print(f"{model_class.__name__} (SAM {model.config.version}, {num_values:,} values) written to {args.output}")


class _PromptAction(argparse.Action):
    """``--point`` / ``--box`` / ``--mask``: kept in order, with the ``--frame`` and ``--obj-id``
    given before."""

    def __call__(self, parser, namespace, values, option_string=None):
        prompts = list(getattr(namespace, "prompts", None) or [])
        prompts.append({"frame": namespace.frame, "object_id": namespace.obj_id, self.dest: values})
        namespace.prompts = prompts


def _cli_prompts(prompts: list[dict]) -> list[dict]:
    """argparse values -> the pipeline's prompt dicts (``point`` -> ``points`` + ``labels``)."""
    from .annotate import read_mask_file

    converted = []
    for prompt in prompts:
        prompt = dict(prompt)
        if "point" in prompt:
            x, y, label = prompt.pop("point")
            prompt.update(points=[[x, y]], labels=[label])
        if "mask" in prompt:
            prompt["mask"] = read_mask_file(prompt["mask"])
        converted.append(prompt)
    return converted


def track(args: argparse.Namespace) -> None:
    if not args.prompts:
        raise ValueError("give at least one --point x,y[,label], --box x0,y0,x1,y1 or --mask FILE")
    prompts = _cli_prompts(args.prompts)
    _run_video_job(args, prompts=prompts, masklet_type="predicted")


def auto(args: argparse.Namespace) -> None:
    options = {"points_per_side": args.points_per_side, "pred_iou_thresh": args.pred_iou_thresh,
               "stability_score_thresh": args.stability_score_thresh, "box_nms_thresh": args.box_nms_thresh,
               "max_objects": args.max_objects, "start_frame": args.frame}
    _run_video_job(args, prompts=None, masklet_type="auto", **options)


def _run_video_job(args: argparse.Namespace, prompts: list[dict] | None, masklet_type: str, **options) -> None:
    """Track with the pipeline and write masks/, masklets.json and overlay.mp4 while streaming;
    ``--output`` appears only once complete."""
    from .annotate import write_tracked_video
    from .pipelines import VideoMaskGenerationPipeline

    pipe = VideoMaskGenerationPipeline(model=load_model(args.model, Sam2VideoModel), device=_device(args))
    output = Path(args.output)
    num_frames, num_objects = write_tracked_video(
        pipe, args.video, output, prompts, masklet_type, png_layout=args.png_layout, overwrite=args.overwrite,
        dtype=_dtype(args.dtype),
        compile=args.compile, max_frames=args.max_frames, **options)
    print(f"tracked {num_objects} object(s) through {num_frames} frames; masks in {output / 'masks'}, "
          f"masklets in {output / 'masklets.json'}, overlay in {output / 'overlay.mp4'}")


def annotate_command(args: argparse.Namespace) -> None:
    from .annotate import annotate

    summary = annotate(args.input, args.output, args.prompts, args.model, args.points_per_side, args.overlay,
                       args.png_layout, _dtype(args.dtype), args.max_frames)
    if "done" in summary:  # the main process
        print(f"{summary['done']} video(s) done, {summary['failed']} failed, {summary['skipped']} skipped (done before); "
              f"{summary['frames']} frames at {summary['frames_per_second']} frames/s on {summary['processes']} "
              f"process(es); manifest and summary in {args.output}")
        for video, error in summary["failures"].items():
            print(f"  failed: {video}: {error}", file=sys.stderr)


def demo_command(args: argparse.Namespace) -> None:
    # The app reads its settings from the environment (as a Space does) when it is imported.
    os.environ["SAM2_DEMO_DTYPE"] = args.dtype
    os.environ["SAM2_DEMO_COMPILE"] = "1" if args.compile else "0"
    if args.device:
        os.environ["SAM2_DEMO_DEVICE"] = args.device
    try:
        from .demo import launch
    except ImportError as error:
        raise ValueError(f"the demo needs Gradio: pip install 'sam2_hf[demo]' ({error})") from None
    launch(args.host, args.port, args.share)


def train_command(args: argparse.Namespace) -> None:
    from .training import TrainingConfig, train

    config = TrainingConfig.from_file(args.config, steps=args.steps, output_dir=args.output_dir, train_data=args.train_data)
    final = train(config)
    print(f"model written to {final}")


def evaluate(args: argparse.Namespace) -> None:
    if args.model is not None or args.pred_dir is None:
        _evaluate_model(args)
        return
    from .evaluation import evaluate_folders

    result = evaluate_folders(args.gt_dir, args.pred_dir, num_workers=args.workers)
    print(result.table())
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2))
        print(f"scores written to {args.json}")


def _evaluate_model(args: argparse.Namespace) -> None:
    """Run the model on a val/test-layout dataset with the click / mask protocols and score it."""
    from .evaluation.model_evaluation import evaluate_model

    model = load_model(args.model, Sam2VideoModel)
    scores = evaluate_model(model, args.gt_dir, tuple(args.clicks), first_frame_mask=args.first_frame_mask,
                            max_videos=args.max_videos)
    for name, value in scores.items():
        print(f"J&F {name.replace('_', ' ')}: {value:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(scores, indent=2))
        print(f"scores written to {args.json}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sam2-hf", description="SAM 2: segment and track anything in images and videos.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    seg = commands.add_parser("segment", help="segment an object in an image from clicks or a box",
                              description="Segment one object in an image; writes an overlay PNG.")
    seg.add_argument("image", help="image file (PNG, JPEG, ...)")
    seg.add_argument("--point", type=_parse_point, action="append",
                     help="click x,y[,label] in image pixels; label 1 (default) adds, 0 removes; repeatable")
    seg.add_argument("--box", type=_parse_box, help="box x0,y0,x1,y1 in image pixels")
    seg.add_argument("--model", help="model folder, Hub id or official .pt (default: the shipped sam2-hf-synthetic-small)")
    seg.add_argument("--output", default="segment_overlay.png", help="overlay PNG to write (default: %(default)s)")
    seg.add_argument("--mask-output", help="also write the binary mask as a PNG")
    seg.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    seg.set_defaults(run=segment)

    conv = commands.add_parser("convert", help="convert an official .pt or transformers checkpoint to sam2_hf",
                               description="Convert a checkpoint (official .pt, transformers folder or Hub id) to our format.")
    conv.add_argument("source", help="official .pt file, or a folder / Hub id in transformers' or our format")
    conv.add_argument("output", help="folder to write")
    conv.add_argument("--preset", help="force a preset instead of inferring the size from the tensors")
    conv.add_argument("--image-only", action="store_true", help="keep only the image model (drop the memory modules)")
    conv.set_defaults(run=convert)

    tr = commands.add_parser("track", help="track objects through a video from clicks, boxes or masks",
                             description="Track objects through a video. Repeat --point, --box and --mask; each "
                             "applies to the --frame and --obj-id given before it. Writes OUTPUT/masks/*.png (one "
                             "indexed PNG per frame, pixel value = object id), OUTPUT/masklets.json (SA-V-style COCO "
                             "RLE) and OUTPUT/overlay.mp4.")
    _video_job_arguments(tr, "outputs/track")
    tr.add_argument("--frame", type=int, default=0, help="frame the following prompts are on (default: %(default)s)")
    tr.add_argument("--obj-id", type=int, default=1, help="object the following prompts belong to (default: %(default)s)")
    tr.add_argument("--point", dest="point", type=_parse_point, action=_PromptAction,
                    help="click x,y[,label] in video pixels; label 1 (default) adds, 0 removes")
    tr.add_argument("--box", dest="box", type=_parse_box, action=_PromptAction, help="box x0,y0,x1,y1 in video pixels")
    tr.add_argument("--mask", dest="mask", action=_PromptAction, help="image file whose non-zero pixels are the object")
    tr.set_defaults(run=track, prompts=[])

    au = commands.add_parser("auto", help="find every object on a frame and track them all (automatic masklets)",
                             description="Prompt a grid of clicks on --frame, keep the confident, distinct masks and "
                             "track each through the video. Writes the same files as `track`.")
    _video_job_arguments(au, "outputs/auto")
    au.add_argument("--frame", type=int, default=0, help="frame to find objects on (default: %(default)s)")
    au.add_argument("--points-per-side", type=int, default=32, help="grid of N x N clicks (default: %(default)s)")
    au.add_argument("--pred-iou-thresh", type=float, default=0.8, help="minimum predicted IoU (default: %(default)s)")
    au.add_argument("--stability-score-thresh", type=float, default=0.95, help="minimum stability score (default: %(default)s)")
    au.add_argument("--box-nms-thresh", type=float, default=0.7, help="box IoU for duplicate removal (default: %(default)s)")
    au.add_argument("--max-objects", type=int, default=32, help="track at most this many objects (default: %(default)s)")
    au.set_defaults(run=auto)

    an = commands.add_parser("annotate", help="annotate a folder of videos or a dataset, on one or many processes",
                             description="Track every video of INPUT (video files and frame folders, or an SA-V / "
                             "DAVIS dataset) from the clicks, boxes and masks of --prompts, or automatically without, "
                             "writing what `track` writes into OUTPUT/<video>/. Runs on all the processes of "
                             "`accelerate launch -m sam2_hf.cli annotate ...`; OUTPUT/manifest.jsonl records each "
                             "finished video, and running again skips the done ones. OUTPUT/summary.json ends the run.")
    an.add_argument("input", help="folder of videos / frame folders, or a dataset in SA-V or DAVIS layout")
    an.add_argument("--output", required=True, help="folder for one output folder per video, the manifest and the summary")
    an.add_argument("--prompts", help="JSON file: {video_id: [{frame, object_id, points + labels | box | mask}, ...]}; "
                    "without it, every object is found automatically on frame 0")
    an.add_argument("--points-per-side", type=int, default=16, help="automatic mode: grid of N x N clicks (default: %(default)s)")
    an.add_argument("--model", help="model folder, Hub id or official .pt (default: the shipped sam2-hf-synthetic-small)")
    an.add_argument("--overlay", action="store_true", help="also write each video's overlay.mp4")
    an.add_argument("--max-frames", type=int, help="track at most this many frames in each direction")
    an.add_argument("--png-layout", choices=["davis", "sav"], default="davis", help="as for `track` (default: %(default)s)")
    an.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                    help="compute dtype under autocast (default: %(default)s)")
    an.set_defaults(run=annotate_command)

    ev = commands.add_parser("evaluate", help="J&F of predicted masks against ground truth (DAVIS / SA-V layouts)",
                             description="Score every video folder of GT_DIR against PRED_DIR. A video folder of PNG "
                             "frames is scored as DAVIS does, a folder of object folders as SA-V does. Without "
                             "PRED_DIR (or with --model), GT_DIR is a dataset (SA-V val/test layout) and the model "
                             "is scored with simulated first-frame clicks (--clicks) and/or the first frame's mask.")
    ev.add_argument("gt_dir", help="ground truth: one folder per video (or a dataset, to score a model)")
    ev.add_argument("pred_dir", nargs="?", help="predictions: one folder per video, same layout and names")
    ev.add_argument("--model", help="score this model instead of prediction folders (default: the shipped one)")
    ev.add_argument("--clicks", type=int, nargs="*", default=[1], help="click budgets to score (default: 1)")
    ev.add_argument("--first-frame-mask", action="store_true", help="also score tracking from the first frame's mask")
    ev.add_argument("--max-videos", type=int, help="score only the first N videos")
    ev.add_argument("--json", help="also write the scores as JSON to this file")
    ev.add_argument("--workers", type=int, default=os.cpu_count(), help="parallel processes (default: %(default)s)")
    ev.set_defaults(run=evaluate)

    tn = commands.add_parser("train", help="train or fine-tune on SA-V-format data (Accelerate)",
                             description="Train from a YAML/JSON config (see configs/). Run under `accelerate launch` "
                             "for several processes; an existing output folder resumes from its latest checkpoint.")
    tn.add_argument("config", help="training config file (YAML or JSON)")
    tn.add_argument("--steps", type=int, help="override the number of steps")
    tn.add_argument("--output-dir", help="override the output folder")
    tn.add_argument("--train-data", nargs="+", help="override the training data folder (or folders, drawn from as one set)")
    tn.set_defaults(run=train_command)

    dm = commands.add_parser("demo", help="the click-to-track Gradio app in the browser",
                             description="Serve the click-to-track app (needs the demo extra: pip install 'sam2_hf[demo]').")
    dm.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    dm.add_argument("--port", type=int, help="port (default: Gradio's, 7860 or the next free one)")
    dm.add_argument("--share", action="store_true", help="also open a public Gradio link")
    dm.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    dm.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                    help="compute dtype; bfloat16 tracks ~2x faster on CPUs with AVX-512 bf16 (default: %(default)s)")
    dm.add_argument("--compile", action="store_true", help=COMPILE_HELP)
    dm.set_defaults(run=demo_command)

    bm = commands.add_parser("benchmark", help="speed and memory next to the official and transformers implementations",
                             description=benchmark.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    benchmark.add_arguments(bm)
    bm.set_defaults(run=benchmark.run)
    return parser


def _video_job_arguments(parser: argparse.ArgumentParser, default_output: str) -> None:
    parser.add_argument("video", help="video file (mp4, avi, webm, ...) or folder of JPEG/PNG frames")
    parser.add_argument("--model", help="model folder, Hub id or official .pt (default: the shipped sam2-hf-synthetic-small)")
    parser.add_argument("--output", default=default_output, help="folder to write (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--max-frames", type=int, help="track at most this many frames in each direction")
    parser.add_argument("--png-layout", choices=["davis", "sav"], default="davis",
                        help="masks/ as one indexed PNG per frame (davis) or one binary PNG per object and frame "
                        "in masks/<object>/ (sav) (default: %(default)s)")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                        help="compute dtype under autocast (default: %(default)s)")
    parser.add_argument("--compile", action="store_true", help=COMPILE_HELP)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s: %(message)s")
    try:
        args.run(args)
    except (ValueError, OSError) as error:
        if args.verbose:
            raise
        print(f"sam2-hf {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
