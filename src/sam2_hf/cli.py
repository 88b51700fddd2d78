"""The ``sam2-hf`` command line.

Subcommands so far: ``track`` (objects through a video), ``segment`` (an image from clicks or a
box), ``convert`` (any supported checkpoint layout to ours) and ``evaluate`` (J&F of mask folders). Errors are reported on one line, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .configuration import Sam2Config
from .model_card import write_model_card
from .modeling import Sam2Model, Sam2VideoModel
from .outputs import overlay_masks
from .processing import Sam2Processor, to_rgb_uint8

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


def load_model(source: str | None, model_class: type[Sam2Model] = Sam2Model, preset: str = "sam2.1-hiera-tiny") -> Sam2Model:
    """A model from a folder, Hub id or official ``.pt``; with no source, random weights of
    ``preset`` (useful only to try the plumbing: the masks mean nothing)."""
    if source is None:
        logger.warning("no --model given: using RANDOM weights of %s; the masks will be meaningless", preset)
        torch.manual_seed(0)
        return model_class(Sam2Config.from_preset(preset)).eval()
    return model_class.from_pretrained(source).eval()


def segment(args: argparse.Namespace) -> None:
    image_path = Path(args.image)
    if not image_path.is_file():
        raise ValueError(f"image not found: {image_path}")
    try:
        image = to_rgb_uint8(Image.open(image_path))
    except OSError as error:
        raise ValueError(f"cannot read {image_path} as an image: {error}") from None
    if not args.point and not args.box:
        raise ValueError("give at least one --point x,y[,label] or a --box x0,y0,x1,y1")
    model = load_model(args.model)
    processor = Sam2Processor.from_config(model.config)
    prompts = {}
    if args.point:
        prompts["input_points"] = [[[[x, y] for x, y, _ in args.point]]]
        prompts["input_labels"] = [[[label for _, _, label in args.point]]]
    if args.box:
        prompts["input_boxes"] = [[args.box]]
    inputs = processor(images=image, **prompts)
    # One click is ambiguous: ask for three masks and keep the best, as the reference does.
    multimask = len(args.point or []) <= 1 and not args.box
    with torch.no_grad():
        outputs = model(**{k: v for k, v in inputs.items() if k != "original_sizes"}, multimask_output=multimask)
    best = int(outputs.iou_scores[0, 0].argmax())
    mask = processor.post_process_masks(outputs.pred_masks, inputs["original_sizes"])[0][0, best].numpy()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(overlay_masks(image, mask[None])).save(output)
    if args.mask_output:
        Image.fromarray((mask * 255).astype(np.uint8)).save(args.mask_output)
    score = float(outputs.iou_scores[0, 0, best])
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
    """``--point`` / ``--box``: kept in order, with the ``--frame`` and ``--obj-id`` given before."""

    def __call__(self, parser, namespace, values, option_string=None):
        prompts = list(getattr(namespace, "prompts", None) or [])
        prompts.append((self.dest, values, namespace.frame, namespace.obj_id))
        namespace.prompts = prompts


def track(args: argparse.Namespace) -> None:
    from .outputs import IndexedPngWriter, OverlayVideoWriter

    if not args.prompts:
        raise ValueError("give at least one --point x,y[,label] or --box x0,y0,x1,y1")
    model = load_model(args.model, Sam2VideoModel)
    output = Path(args.output)
    partial = output.parent / f".{output.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with model.start_session(args.video) as session:
            first_frame = _add_prompts(session, args.prompts)
            png = IndexedPngWriter(partial / "masks")
            before = []  # frames before the first prompt come out backwards: kept until written in order
            if first_frame > 0:
                for result in session.propagate(start_frame_idx=first_frame, reverse=True):
                    png.write(result.frame_idx, result.masks.cpu().numpy(), result.object_ids)
                    if result.frame_idx < first_frame:
                        before.append(result)
            height, width = session.video_size
            overlay = OverlayVideoWriter(partial / "overlay.mp4", getattr(session.source, "fps", None) or 24, width, height)
            try:
                for result in [*reversed(before), *session.propagate(start_frame_idx=first_frame)]:
                    masks = result.masks.cpu().numpy()
                    png.write(result.frame_idx, masks, result.object_ids)
                    overlay.write(session.source.frame(result.frame_idx), masks, result.object_ids)
            finally:
                overlay.close()
        shutil.rmtree(output, ignore_errors=True)
        partial.rename(output)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print(f"tracked {len(session.object_ids)} object(s) through {len(list((output / 'masks').iterdir()))} frames; "
          f"masks in {output / 'masks'}, overlay in {output / 'overlay.mp4'}")


def _add_prompts(session, prompts: list) -> int:
    """Give the session every prompt (clicks of one object on one frame together); returns the
    first prompted frame."""
    grouped: dict[tuple[int, int], dict] = {}
    for kind, value, frame, obj_id in prompts:
        entry = grouped.setdefault((frame, obj_id), {"points": [], "labels": [], "box": None})
        if kind == "point":
            entry["points"].append(value[:2])
            entry["labels"].append(value[2])
        elif entry["box"] is not None:
            raise ValueError(f"object {obj_id} has two boxes on frame {frame}")
        else:
            entry["box"] = value
    for (frame, obj_id), entry in grouped.items():
        points = entry["points"] or None
        labels = entry["labels"] or None
        if entry["box"] is not None:
            session.add_box(frame, obj_id, entry["box"], points=points, labels=labels)
        else:
            session.add_points(frame, obj_id, points, labels)
    return min(frame for frame, _ in grouped)


def evaluate(args: argparse.Namespace) -> None:
    from .evaluation import evaluate_folders

    result = evaluate_folders(args.gt_dir, args.pred_dir, num_workers=args.workers)
    print(result.table())
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2))
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
    seg.add_argument("--model", help="model folder, Hub id or official .pt (default: random weights, for a dry run)")
    seg.add_argument("--output", default="segment_overlay.png", help="overlay PNG to write (default: %(default)s)")
    seg.add_argument("--mask-output", help="also write the binary mask as a PNG")
    seg.set_defaults(run=segment)

    conv = commands.add_parser("convert", help="convert an official .pt or transformers checkpoint to sam2_hf",
                               description="Convert a checkpoint (official .pt, transformers folder or Hub id) to our format.")
    conv.add_argument("source", help="official .pt file, or a folder / Hub id in transformers' or our format")
    conv.add_argument("output", help="folder to write")
    conv.add_argument("--preset", help="force a preset instead of inferring the size from the tensors")
    conv.add_argument("--image-only", action="store_true", help="keep only the image model (drop the memory modules)")
    conv.set_defaults(run=convert)

    tr = commands.add_parser("track", help="track objects through a video from clicks or boxes",
                             description="Track objects from clicks / boxes through a video. Repeat --point and --box; "
                             "each applies to the --frame and --obj-id given before it. Writes OUTPUT/masks/*.png "
                             "(one indexed PNG per frame, pixel value = object id) and OUTPUT/overlay.mp4.")
    tr.add_argument("video", help="video file (mp4, avi, webm, ...) or folder of JPEG/PNG frames")
    tr.add_argument("--frame", type=int, default=0, help="frame the following prompts are on (default: %(default)s)")
    tr.add_argument("--obj-id", type=int, default=1, help="object the following prompts belong to (default: %(default)s)")
    tr.add_argument("--point", dest="point", type=_parse_point, action=_PromptAction,
                    help="click x,y[,label] in video pixels; label 1 (default) adds, 0 removes")
    tr.add_argument("--box", dest="box", type=_parse_box, action=_PromptAction, help="box x0,y0,x1,y1 in video pixels")
    tr.add_argument("--model", help="model folder, Hub id or official .pt (default: random weights, for a dry run)")
    tr.add_argument("--output", default="outputs/track", help="folder to write (default: %(default)s)")
    tr.set_defaults(run=track, prompts=[])

    ev = commands.add_parser("evaluate", help="J&F of predicted masks against ground truth (DAVIS / SA-V layouts)",
                             description="Score every video folder of GT_DIR against PRED_DIR. A video folder of PNG "
                             "frames is scored as DAVIS does, a folder of object folders as SA-V does.")
    ev.add_argument("gt_dir", help="ground truth: one folder per video")
    ev.add_argument("pred_dir", help="predictions: one folder per video, same layout and names")
    ev.add_argument("--json", help="also write the scores as JSON to this file")
    ev.add_argument("--workers", type=int, default=os.cpu_count(), help="parallel processes (default: %(default)s)")
    ev.set_defaults(run=evaluate)
    return parser


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
