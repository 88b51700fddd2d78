"""Speed and memory of video tracking: ours next to the official predictor and transformers'
Sam2VideoModel, on the same weights, video, clicks and thread count, in one run.

    sam2-hf benchmark --quick --json results.json   # reduced run, ~15 min at 2 threads
    sam2-hf benchmark --json results.json           # full run (hours at 2 threads: 3,000 tracked frames)
    python scripts/benchmark.py ...                 # the same, from a checkout

Weights: the real hiera-tiny architecture with random seeded weights (the object-score head
biased so objects count as present and masks carry signal), saved once as an official `.pt` and
loaded by all three implementations. Video: a generated 480x854 JPEG folder with three moving
textured shapes. Every measurement runs in its own process, so peak RSS is measured from zero.

Measures (`rows` of the JSON): `encode_image` (one 1024x1024 image through the image encoder, timed
in rounds that take every implementation in turn; `--encode-rounds` sets how many, `--encoder-only`
measures nothing else),
`track_frame_1obj` / `track_frame_3obj` (seconds per tracked frame once the memory bank is full,
i.e. from frame 7 on; in --quick from frame 4), `first_mask` (opening a video to the first mask
after a click), `peak_rss_<N>` (peak RSS of opening an N-frame video, clicking and tracking; the
full run tracks the whole video, --quick only its first frames, which is where the references'
memory goes: they decode and keep every frame up front). A reference is skipped where it would
not fit in this machine's memory, and the table says so. `agreement`: max abs logit difference
and min per-frame IoU of our masks against the official ones (and bf16 against our fp32) over
the timed frames. `flops`: model FLOPs of one tracked frame (torch.utils.flop_counter) and the
achieved rate. `stages`: where a tracked frame's time goes, per implementation (medians over the
timed frames, from hooks on each implementation's own modules and methods): preprocessing (on the
tracking thread; the references preprocess every frame up front, reported per frame apart),
image encoder, memory attention, mask decoder (with the prompt encoder), memory encoder,
post-processing (upsampling to the video; ours also with hole filling on, which the official
predictor skips without its CUDA extension) and the Python overhead between them (the rest).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

HEIGHT, WIDTH = 480, 854
MODES = ["fp32", "bf16", "fp32-compiled", "bf16-compiled"]
CLICKS = [(240.0, 200.0), (520.0, 300.0), (700.0, 120.0)]  # one per shape on frame 0
OFFICIAL_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
MODEL_SIDE = 1024  # hiera-tiny's input size
# Every frame each reference holds as float32 1024x1024x3 (plus its features cache).
REFERENCE_MIB_PER_FRAME = {"official": 12.0, "transformers": 24.0}
IMPLEMENTATIONS = ("ours", "official", "transformers")
STAGES = ["preprocessing", "image encoder", "memory attention", "mask decoder", "memory encoder", "post-processing"]


# ---------------------------------------------------------------- inputs (made once per run)

def make_video(folder: Path, num_frames: int) -> Path:
    """480p JPEGs ``00000.jpg...``: a smooth textured background and three shapes that move."""
    from PIL import Image

    if (folder / f"{num_frames - 1:05d}.jpg").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (HEIGHT // 16, WIDTH // 16, 3), dtype=np.uint8)
    background = np.asarray(Image.fromarray(background).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC))
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    stripes = ((x + y) // 12 % 2).astype(bool)
    for t in range(num_frames):
        frame = background.copy()
        cx, cy = 240 + 120 * np.sin(t / 15), 200 + 40 * np.cos(t / 11)
        frame[((x - cx) ** 2 + (y - cy) ** 2 < 60**2) & stripes] = [230, 60, 40]
        frame[((x - cx) ** 2 + (y - cy) ** 2 < 60**2) & ~stripes] = [250, 200, 60]
        rx = int(460 + (t * 3) % 120)
        frame[250:350, rx : rx + 120] = [40, 80, 220]
        frame[((x - 700) ** 2 / 2 + (y - 120 - 30 * np.sin(t / 9)) ** 2 < 45**2)] = [60, 200, 90]
        Image.fromarray(frame).save(folder / f"{t:05d}.jpg", quality=90)
    return folder


def make_weights(path: Path) -> None:
    """Random seeded hiera-tiny weights in the official checkpoint format."""
    import torch
    from sam2.build_sam import build_sam2_video_predictor

    torch.manual_seed(0)
    predictor = build_sam2_video_predictor(OFFICIAL_CONFIG, ckpt_path=None, device="cpu")
    with torch.no_grad():
        for tensor in predictor.state_dict().values():
            if tensor.is_floating_point() and not tensor.any():  # zero-initialised embeddings
                tensor.normal_(0, 0.02)
        predictor.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(5.0)
    torch.save({"model": predictor.state_dict()}, path)


# ---------------------------------------------------------------- one measurement (child process)

class StageTimer:
    """Seconds spent in each stage, added up by hooks on modules and wrappers around methods, on
    the tracking (main) thread only; :meth:`take` returns them and starts again from zero."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._started: dict[int, float] = {}

    @staticmethod
    def _on_main_thread() -> bool:
        return threading.current_thread() is threading.main_thread()

    def module(self, stage: str, module) -> None:
        def before(mod, args):
            if self._on_main_thread():
                self._started[id(mod)] = time.perf_counter()

        def after(mod, args, output):
            started = self._started.pop(id(mod), None)
            if started is not None:
                self.seconds[stage] += time.perf_counter() - started

        module.register_forward_pre_hook(before)
        module.register_forward_hook(after)

    def timed(self, stage: str, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if not self._on_main_thread():
                return function(*args, **kwargs)
            tick = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - tick
        return wrapper

    def method(self, stage: str, owner, name: str) -> None:
        setattr(owner, name, self.timed(stage, getattr(owner, name)))

    def take(self) -> dict[str, float]:
        taken = dict(self.seconds)
        self.seconds.clear()
        return taken


class Tracker:
    """The three implementations behind one interface: open a video, click, track."""

    def __init__(self, impl: str, weights: Path, mode: str) -> None:
        import torch

        self.impl = impl
        if impl == "ours":
            from sam2_hf import Sam2VideoModel

            self.model = Sam2VideoModel.from_pretrained(str(weights)).eval()
            if mode.startswith("bf16"):  # what a bfloat16 VideoSession runs, for the image-encoder measure too
                from sam2_hf.modeling.precision import with_matmul_weights_in

                self.model = with_matmul_weights_in(self.model, torch.bfloat16)
        elif impl == "official":
            from sam2.build_sam import build_sam2_video_predictor

            self.model = build_sam2_video_predictor(OFFICIAL_CONFIG, ckpt_path=str(weights), device="cpu").eval()
        else:
            from transformers import Sam2VideoConfig
            from transformers import Sam2VideoModel as TransformersVideoModel

            from sam2_hf import Sam2VideoModel
            from sam2_hf.convert import transformers_key_map

            state = Sam2VideoModel.from_pretrained(str(weights)).state_dict()
            self.model = TransformersVideoModel(Sam2VideoConfig()).eval()
            self.model.load_state_dict({k: state[v] for k, v in transformers_key_map(list(self.model.state_dict())).items()})
        self.dtype = torch.bfloat16 if mode.startswith("bf16") else None
        if mode.endswith("-compiled"):
            self.model.compile_for_tracking()  # compiles on first use: in the untimed warm-up

    def watch_stages(self, timer: "StageTimer") -> None:
        """Time this implementation's stages with ``timer`` (hooks on its own modules)."""
        m = self.model
        if self.impl == "official":
            modules = {"image encoder": [m.image_encoder], "mask decoder": [m.sam_prompt_encoder, m.sam_mask_decoder]}
            timer.method("post-processing", m, "_get_orig_video_res_output")
        else:  # ours and transformers name these modules alike
            modules = {"image encoder": [m.vision_encoder], "mask decoder": [m.prompt_encoder, m.mask_decoder]}
        modules.update({"memory attention": [m.memory_attention], "memory encoder": [m.memory_encoder]})
        for stage, parts in modules.items():
            for part in parts:
                timer.module(stage, part)
        self.timer = timer

    def encode_image(self, pixels):
        if self.impl == "ours":
            return self.model.encode_frame(pixels)
        if self.impl == "official":
            return self.model.forward_image(pixels)
        return self.model.get_image_features(pixels)

    def track(self, video: Path, num_objects: int, num_frames: int):
        """Yields ``(frame_idx, mask_logits (N, H, W) float32)``; the first item is the click's
        result on frame 0, then one per tracked frame."""
        import torch

        from sam2_hf.inference import VideoSession

        clicks = CLICKS[:num_objects]
        if self.impl == "ours":
            session = VideoSession(self.model, str(video), dtype=self.dtype, fill_hole_area=0)
            if getattr(self, "timer", None):
                self.timer.method("preprocessing", session, "_pixels")  # decoding, or waiting for a prefetched frame
                self.timer.method("post-processing", session, "_clean")
                self.timer.method("post-processing", session, "_frame_result")
            for obj, (x, y) in enumerate(clicks, 1):
                result = session.add_points(0, obj, [[x, y]], [1])
            yield 0, result.mask_logits
            for result in session.propagate(max_frames=num_frames):
                if result.frame_idx > 0:
                    yield result.frame_idx, result.mask_logits
        elif self.impl == "official":
            with torch.inference_mode():
                tick = time.perf_counter()
                state = self.model.init_state(str(video))
                self.upfront_preprocessing = (time.perf_counter() - tick) / state["num_frames"]
                for obj, (x, y) in enumerate(clicks, 1):
                    _, _, masks = self.model.add_new_points_or_box(state, 0, obj, points=[[x, y]], labels=[1])
                yield 0, masks[:, 0].float()
                for t, _, masks in self.model.propagate_in_video(state, max_frame_num_to_track=num_frames - 1):
                    if t > 0:
                        yield t, masks[:, 0].float()
        else:
            yield from self._track_transformers(video, clicks, num_frames)

    def _track_transformers(self, video: Path, clicks, num_frames: int):
        import torch
        import torch.nn.functional as F
        from PIL import Image
        from transformers import Sam2VideoInferenceSession

        from sam2_hf.processing import Sam2ImageProcessor

        processor = Sam2ImageProcessor()
        files = sorted(video.glob("*.jpg"))
        tick = time.perf_counter()
        # transformers' session takes the whole preprocessed video up front, as its processor does.
        pixels = torch.stack([processor.preprocess(np.asarray(Image.open(f).convert("RGB")), resize_mode="video")[0]
                              for f in files])
        session = Sam2VideoInferenceSession(video=pixels, video_height=HEIGHT, video_width=WIDTH, dtype=torch.float32)
        self.upfront_preprocessing = (time.perf_counter() - tick) / len(files)

        def upsample(low_res):
            return F.interpolate(low_res.float(), size=(HEIGHT, WIDTH), mode="bilinear", align_corners=False)[:, 0]

        timer = getattr(self, "timer", None)
        video_res = timer.timed("post-processing", upsample) if timer else upsample

        with torch.inference_mode():
            for obj, (x, y) in enumerate(clicks, 1):
                point = torch.tensor([[[[x / WIDTH * MODEL_SIDE, y / HEIGHT * MODEL_SIDE]]]])
                session.add_point_inputs(session.obj_id_to_idx(obj), 0,
                                         {"point_coords": point, "point_labels": torch.tensor([[[1]]], dtype=torch.int32)})
            session.obj_with_new_inputs = list(range(1, len(clicks) + 1))
            yield 0, video_res(self.model(inference_session=session, frame_idx=0).pred_masks)
            for out in self.model.propagate_in_video_iterator(session, max_frame_num_to_track=num_frames - 1):
                if out.frame_idx > 0:
                    yield out.frame_idx, video_res(out.pred_masks)


def child(job: dict) -> dict:
    """Run one measurement in this process and return its numbers."""
    import torch

    torch.set_num_threads(job["threads"])
    started = time.perf_counter()
    tracker = Tracker(job["impl"], Path(job["weights"]), job["mode"])
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=job["mode"].startswith("bf16"))
    result: dict = {}
    if job["kind"] == "encode_image":
        pixels = torch.randn(1, 3, MODEL_SIDE, MODEL_SIDE)
        times = []
        with torch.inference_mode(), autocast:
            for _ in range(job["repeats"] + 1):
                tick = time.perf_counter()
                tracker.encode_image(pixels)
                times.append(time.perf_counter() - tick)
        result["times"] = times[1:]  # the first call warms up
    elif job["kind"] == "track":
        from torch.utils.flop_counter import FlopCounterMode

        attention_flops = _cpu_attention_flop_formulas()
        times, logits, stages = [], {}, []
        timer = StageTimer()
        tracker.watch_stages(timer)
        frames = tracker.track(Path(job["video"]), job["objects"], job["frames"])
        for seconds, (t, masks) in timed(frames):
            frame_stages = timer.take()
            if t >= job["steady_from"]:
                times.append(seconds)
                stages.append({**frame_stages, "Python overhead": seconds - sum(frame_stages.values())})
                logits[t] = masks.float().clone()
            if t == job["frames"] - 2:  # count the last frame's FLOPs (the counter slows it down)
                break
        with FlopCounterMode(display=False, custom_mapping=attention_flops) as counter:
            t, masks = next(frames)
        logits[t] = masks.float().clone()
        result["times"] = times
        result["flops"] = counter.get_total_flops()
        result["stages"] = {stage: statistics.median(frame.get(stage, 0.0) for frame in stages)
                            for stage in STAGES + ["Python overhead"]}
        if hasattr(tracker, "upfront_preprocessing"):
            result["stages"]["preprocessing up front (per frame)"] = tracker.upfront_preprocessing
        if job["impl"] == "ours":
            result["stages"]["hole filling, when on"] = hole_filling_seconds(logits)
        torch.save(logits, job["logits_out"])
    else:  # memory: open, click, first mask, track some frames
        tick = time.perf_counter()
        frames = tracker.track(Path(job["video"]), 1, job["frames"])
        next(frames)
        result["first_mask"] = time.perf_counter() - tick
        result["times"] = [seconds for seconds, _ in timed(frames)]
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["seconds"] = time.perf_counter() - started
    return result


def hole_filling_seconds(logits: dict) -> float:
    """Median seconds of our hole filling (the session's default area) on each timed frame's
    masks at the decoder's resolution (a quarter of the model's input side), where the session
    applies it."""
    import torch.nn.functional as F

    from sam2_hf.inference.postprocess import fill_holes
    from sam2_hf.inference.session import DEFAULT_FILL_HOLE_AREA

    times = []
    for masks in logits.values():
        low_res = F.interpolate(masks[:, None], size=(MODEL_SIDE // 4,) * 2, mode="bilinear", align_corners=False)
        tick = time.perf_counter()
        fill_holes(low_res, DEFAULT_FILL_HOLE_AREA)
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def timed(items):
    """Yields ``(seconds spent producing the item, item)`` for each item of an iterator; the
    iterator can be resumed after the loop breaks."""
    while True:
        tick = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            return
        yield time.perf_counter() - tick, item


def _cpu_flash_attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_attention_flop_formulas() -> dict:
    """torch's FLOP counter knows the CUDA attention kernels but not the CPU flash one."""
    import torch

    return {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops}


def run_job(job: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "sam2_hf.benchmark", "--child", json.dumps(job)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{job['impl']} {job['kind']} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the run

def available_mib() -> float:
    with open("/proc/meminfo") as handle:
        info = dict(line.split(":", 1) for line in handle)
    return int(info["MemAvailable"].split()[0]) / 1024


def mask_agreement(pairs) -> tuple[float, float]:
    """Max abs logit difference and min per-object IoU of the binarised masks over ``(expected,
    got)`` pairs of ``(N, H, W)`` logits (one pair per frame)."""
    worst_diff, worst_iou = 0.0, 1.0
    for a, b in pairs:
        worst_diff = max(worst_diff, float((a - b).abs().max()))
        for mask_a, mask_b in zip(a > 0, b > 0):
            union = int((mask_a | mask_b).sum())
            worst_iou = min(worst_iou, 1.0 if union == 0 else int((mask_a & mask_b).sum()) / union)
    return worst_diff, worst_iou


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a reduced run (fewer frames and repeats)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch threads (default: %(default)s)")
    parser.add_argument("--impl", nargs="+", default=list(IMPLEMENTATIONS), choices=IMPLEMENTATIONS)
    parser.add_argument("--modes", nargs="+", default=["fp32", "bf16"], choices=MODES,
                        help="our compute modes (the references run in fp32); -compiled: torch.compile of the image "
                        "encoder, its compile time counted in first_mask, not in the per-frame times")
    parser.add_argument("--rss-lengths", type=int, nargs="+", help="video lengths for peak RSS (default 30 300 3000)")
    parser.add_argument("--encode-rounds", type=int, help="rounds of the image-encoder timing (default 5; --quick 2)")
    parser.add_argument("--encoder-only", action="store_true", help="time the image encoder only (no tracking, no RSS)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--workdir", help="keep the generated video and weights here (default: a temporary folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> None:
    """The whole benchmark (or, with ``--child``, one measurement of it)."""
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    track_frames, steady_from, repeats = (8, 4, 2) if args.quick else (16, 7, 5)
    rss_lengths = args.rss_lengths or ([30, 300] if args.quick else [30, 300, 3000])
    rss_tracked = 3 if args.quick else None  # None: the whole video
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.workdir or scratch)
        work.mkdir(parents=True, exist_ok=True)
        weights = work / "sam2.1_hiera_tiny_random.pt"
        if not weights.exists():
            make_weights(weights)
        runs = [(impl, "fp32") for impl in args.impl] + [("ours", m) for m in args.modes if m != "fp32" and "ours" in args.impl]
        base = {"weights": str(weights), "threads": args.threads}
        rows, notes, logits, flops, stages = [], [], {}, [], []

        def add(measure, impl, mode, values, unit, **extra):
            rows.append({"measure": measure, "impl": impl, "mode": mode, "median": statistics.median(values),
                         "min": min(values), "max": max(values), "unit": unit, **extra})

        # The image encoder is timed in rounds that take every implementation in turn, so a change
        # in the machine's speed during the run (other tenants, clock) weighs on all of them alike.
        encode_times = defaultdict(list)
        rounds = args.encode_rounds or repeats
        for round_index in range(rounds):
            for impl, mode in runs:
                log(f"{impl} {mode}: encode_image, round {round_index + 1} of {rounds}")
                job = {**base, "impl": impl, "mode": mode, "kind": "encode_image", "repeats": 2}
                encode_times[impl, mode] += run_job(job)["times"]
        for (impl, mode), times in encode_times.items():
            add("encode_image", impl, mode, times, "s")
        for impl, mode in [] if args.encoder_only else runs:
            video = make_video(work / f"video_{track_frames}", track_frames)
            for objects in (1, 3):
                if args.quick and objects == 3 and impl == "transformers":
                    notes.append("--quick skips transformers with 3 objects")
                    continue
                log(f"{impl} {mode}: tracking {objects} object(s)")
                path = work / f"logits_{impl}_{mode}_{objects}.pt"
                out = run_job({**base, "impl": impl, "mode": mode, "kind": "track", "video": str(video), "objects": objects,
                               "frames": track_frames, "steady_from": steady_from, "logits_out": str(path)})
                add(f"track_frame_{objects}obj", impl, mode, out["times"], "s")
                flops.append({"impl": impl, "mode": mode, "objects": objects, "gflop_per_frame": out["flops"] / 1e9,
                              "gflop_per_s": out["flops"] / 1e9 / statistics.median(out["times"])})
                logits[impl, mode, objects] = path
                stages.append({"impl": impl, "mode": mode, "objects": objects,
                               "frame": statistics.median(out["times"]), "seconds": out["stages"]})
            for length in rss_lengths:
                need, available = REFERENCE_MIB_PER_FRAME.get(impl, 0) * length, available_mib()
                if need > 0.8 * available:
                    notes.append(f"{impl} skipped at {length} frames: it would hold ~{need / 1024:.0f} GiB of frames, "
                                 f"{available / 1024:.0f} GiB available")
                    continue
                log(f"{impl} {mode}: {length}-frame video, peak RSS")
                video = make_video(work / f"video_{length}", length)
                out = run_job({**base, "impl": impl, "mode": mode, "kind": "memory", "video": str(video),
                               "frames": rss_tracked or length})
                add(f"peak_rss_{length}", impl, mode, [out["peak_rss_mib"]], "MiB")
                add("first_mask", impl, mode, [out["first_mask"]], "s", frames=length)
                if rss_tracked is None and len(out["times"]) > 8:  # per-frame cost over the whole video
                    add("track_frame_1obj_whole_video", impl, mode, out["times"][7:], "s", frames=length)
        agreement = agreement_rows(logits)
    report(rows, agreement, flops, stages, notes, args, track_frames, steady_from, rss_tracked)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "agreement": agreement, "flops": flops, "stages": stages,
                                               "notes": notes,
                                               "settings": {"quick": args.quick, "threads": args.threads,
                                                            "torch": torch_version(),
                                                            "track_frames": track_frames, "steady_from": steady_from,
                                                            "rss_tracked_frames": rss_tracked}}, indent=2))


def agreement_rows(logits: dict) -> list[dict]:
    import torch

    rows = []
    for (impl, mode, objects), path in logits.items():
        if impl != "ours":
            continue
        for reference in [("official", "fp32")] + ([("ours", "fp32")] if mode != "fp32" else []):
            if (*reference, objects) not in logits:
                continue
            expected, got = torch.load(logits[(*reference, objects)]), torch.load(path)
            diff, iou = mask_agreement((expected[t], got[t]) for t in sorted(expected.keys() & got.keys()))
            rows.append({"mode": mode, "objects": objects, "against": " ".join(reference),
                         "max_abs_logit_diff": diff, "min_iou": iou})
    return rows


def torch_version() -> str:
    import torch

    return torch.__version__


def machine() -> str:
    """torch's version and what the CPU computes bfloat16 with, for the report's first line: a
    bfloat16 row means nothing without it (emulated bfloat16 is ~20x slower than float32)."""
    import torch

    from .modeling.cpu_features import cpu_flags, emulated_precision_warning

    if cpu_flags() is None:
        bfloat16 = "unknown"
    else:
        bfloat16 = "emulated" if emulated_precision_warning(torch.bfloat16, torch.device("cpu")) else "native"
    return f"torch {torch.__version__}, CPU {torch.backends.cpu.get_cpu_capability()} (bfloat16 {bfloat16})"


def report(rows, agreement, flops, stages, notes, args, track_frames, steady_from, rss_tracked) -> None:
    if args.encoder_only:
        print(f"\n{machine()}, {args.threads} threads; the image encoder only.\n")
    else:
        print(f"\n{machine()}, {args.threads} threads; tracking timed on frames {steady_from}-{track_frames - 1} "
              f"of a 480x854 video; peak RSS with {'the whole video' if rss_tracked is None else f'{rss_tracked} frames'} tracked.\n")
    print("| measure | impl | mode | median | min - max | ours / official | ours / transformers |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        ratios = []
        for reference in ("official", "transformers"):
            match = next((r for r in rows if r["measure"] == row["measure"] and r["impl"] == reference
                          and r.get("frames") == row.get("frames")), None)
            ratios.append(f"{row['median'] / match['median']:.2f}" if row["impl"] == "ours" and match else "")
        measure = row["measure"] + (f" ({row['frames']} frames)" if "frames" in row else "")
        print(f"| {measure} | {row['impl']} | {row['mode']} | {row['median']:.3g} {row['unit']} | "
              f"{row['min']:.3g} - {row['max']:.3g} | {ratios[0]} | {ratios[1]} |")
    if agreement:
        print("\n| ours mode | objects | against | max abs logit diff | min IoU |\n|---|---|---|---|---|")
    for row in agreement:
        print(f"| {row['mode']} | {row['objects']} | {row['against']} | {row['max_abs_logit_diff']:.2e} | {row['min_iou']:.4f} |")
    if flops:
        print("\n| impl | mode | objects | GFLOP per frame | GFLOP/s |\n|---|---|---|---|---|")
    for row in flops:
        print(f"| {row['impl']} | {row['mode']} | {row['objects']} | {row['gflop_per_frame']:.0f} | {row['gflop_per_s']:.0f} |")
    if stages:
        print("\nWhere a tracked frame's time goes (median seconds, share of the frame):\n")
        print("| stage | " + " | ".join(f"{s['impl']} {s['mode']} {s['objects']} obj" for s in stages) + " |")
        print("|---|" + "---|" * len(stages))
        names = STAGES + ["Python overhead"] + sorted({k for s in stages for k in s["seconds"]} - set(STAGES) - {"Python overhead"})
        for name in names + ["frame"]:
            cells = []
            for s in stages:
                value = s["frame"] if name == "frame" else s["seconds"].get(name)
                in_frame = name in STAGES or name == "Python overhead"
                cells.append("" if value is None else f"{value:.3f}" + (f" ({value / s['frame']:.0%})" if in_frame else ""))
            print(f"| {name} | " + " | ".join(cells) + " |")
    for note in notes:
        print(f"- {note}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
