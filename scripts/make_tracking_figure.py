"""Writes examples/shapes_tracked.png, the README's picture of the first command's result: a few
frames of the overlay that `sam2-hf track examples/shapes.mp4 --point 60,42 --output OUT` wrote.

    python scripts/make_tracking_figure.py OUT
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from sam2_hf.processing.video_reader import open_video

FRAMES = (0, 12, 24, 35)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the folder `sam2-hf track` wrote")
    parser.add_argument("--figure", type=Path, default=Path(__file__).resolve().parents[1] / "examples" / "shapes_tracked.png")
    args = parser.parse_args()
    source = open_video(args.output / "overlay.mp4")
    try:
        frames = [source.frame(t) for t in FRAMES]
    finally:
        source.close()
    gap = np.full((frames[0].shape[0], 4, 3), 255, np.uint8)
    strip = np.concatenate([part for frame in frames for part in (frame, gap)][:-1], axis=1)
    Image.fromarray(strip).save(args.figure)
    print(f"wrote {args.figure} (frames {', '.join(map(str, FRAMES))})")


if __name__ == "__main__":
    main()
