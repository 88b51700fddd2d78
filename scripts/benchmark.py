"""Video tracking speed and memory, ours next to the official predictor, on the same weights.

    python scripts/benchmark.py --frames 30 100 300 --threads 2 --json results.json

For each implementation and video length, a fresh process loads the same random seeded weights
(real tiny architecture), opens the same 480p JPEG folder, clicks one object on frame 0 and
tracks to the end. Reported: median seconds per tracked frame, seconds from opening the video to
the first mask, and the process' peak resident memory. Each run is its own process so peak
memory is measured from zero. The official `sam2` package must be installed (see README).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HEIGHT, WIDTH = 480, 854


def make_video(folder: Path, num_frames: int) -> None:
    """A 480p clip of a textured background with a moving disc, as JPEGs named 00000.jpg..."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    background = np.asarray(Image.fromarray(background).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC))
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    for t in range(num_frames):
        frame = background.copy()
        cx, cy = 200 + (t * 4) % 450, 240 + 60 * np.sin(t / 10)
        frame[(x - cx) ** 2 + (y - cy) ** 2 < 70**2] = [230, 60, 40]
        Image.fromarray(frame).save(folder / f"{t:05d}.jpg", quality=90)


def make_weights(path: Path) -> None:
    import torch
    from sam2.build_sam import build_sam2_video_predictor

    torch.manual_seed(0)
    predictor = build_sam2_video_predictor("configs/sam2.1/sam2.1_hiera_t.yaml", ckpt_path=None, device="cpu")
    torch.save({"model": predictor.state_dict()}, path)


def run_child(impl: str, video: Path, weights: Path, num_frames: int, threads: int) -> dict:
    """Track in this process and report timings and peak memory."""
    import torch

    torch.set_num_threads(threads)
    click = [[200.0, 240.0]]
    times = []
    start = time.perf_counter()
    if impl == "ours":
        from sam2_hf import Sam2VideoModel

        model = Sam2VideoModel.from_pretrained(str(weights))
        session = model.start_session(str(video), fill_hole_area=0)
        session.add_points(0, 1, click, [1])
        first_mask = time.perf_counter() - start
        tick = time.perf_counter()
        for _ in session.propagate(max_frames=num_frames):
            now = time.perf_counter()
            times.append(now - tick)
            tick = now
    else:
        from sam2.build_sam import build_sam2_video_predictor

        predictor = build_sam2_video_predictor("configs/sam2.1/sam2.1_hiera_t.yaml", ckpt_path=str(weights), device="cpu")
        with torch.inference_mode():
            state = predictor.init_state(str(video))
            predictor.add_new_points_or_box(state, 0, 1, points=click, labels=[1])
            first_mask = time.perf_counter() - start
            tick = time.perf_counter()
            for _ in predictor.propagate_in_video(state, max_frame_num_to_track=num_frames - 1):
                now = time.perf_counter()
                times.append(now - tick)
                tick = now
    tracked = times[1:]  # frame 0 is the prompted frame: no tracking work
    return {
        "impl": impl,
        "frames": num_frames,
        "median_s_per_frame": statistics.median(tracked) if tracked else float("nan"),
        "min_s_per_frame": min(tracked) if tracked else float("nan"),
        "max_s_per_frame": max(tracked) if tracked else float("nan"),
        "first_mask_s": first_mask,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[10, 30], help="video lengths to track")
    parser.add_argument("--impl", nargs="+", default=["ours", "official"], choices=["ours", "official"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--child", nargs=4, metavar=("IMPL", "VIDEO", "WEIGHTS", "FRAMES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        impl, video, weights, frames = args.child
        print(json.dumps(run_child(impl, Path(video), Path(weights), int(frames), args.threads)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights = tmp / "sam2.1_hiera_tiny_random.pt"
        make_weights(weights)
        rows = []
        for num_frames in args.frames:
            video = tmp / f"video_{num_frames}"
            make_video(video, num_frames)
            for impl in args.impl:
                out = subprocess.run(
                    [sys.executable, __file__, "--threads", str(args.threads), "--child", impl, str(video), str(weights), str(num_frames)],
                    capture_output=True, text=True, check=True,
                )
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"{impl:>8} {num_frames:>5} frames: {rows[-1]['median_s_per_frame']:.2f} s/frame, "
                      f"peak RSS {rows[-1]['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    print("| impl | frames | median s/frame (min-max) | first mask s | peak RSS MiB | ours / official (time, RSS) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        ratio = ""
        reference = next((r for r in rows if r["impl"] == "official" and r["frames"] == row["frames"]), None)
        if row["impl"] == "ours" and reference:
            ratio = f"{row['median_s_per_frame'] / reference['median_s_per_frame']:.2f}, {row['peak_rss_mib'] / reference['peak_rss_mib']:.2f}"
        print(f"| {row['impl']} | {row['frames']} | {row['median_s_per_frame']:.2f} ({row['min_s_per_frame']:.2f}-"
              f"{row['max_s_per_frame']:.2f}) | {row['first_mask_s']:.1f} | {row['peak_rss_mib']:.0f} | {ratio} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
