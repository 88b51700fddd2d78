"""Write validation clips from a generator the shipped model was never trained on, to see whether
it tracks moving textured shapes in general or only the look of its own training videos.

    python scripts/make_unseen_generator_clips.py data/unseen_generator
    sam2-hf evaluate data/unseen_generator --first-frame-mask [--model FOLDER]

This generator is written apart from `sam2_hf.data.synthetic` (only the SA-V val-layout writer is
shared): discs, pentagons, triangles and five-pointed stars with checkered, dotted, linear-
gradient or flat fills, moving in straight lines that bounce off the frame's edges and spinning,
on backgrounds of blocky noise, one flat colour or a linear gradient; later objects cover earlier
ones. It overlaps with the training set's `variety` look in kind (checks, dots, stars, flat and
blocky backgrounds) but not in code, sizes, paths or the gradient fills: a proxy for the
generators of other people, not one of them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sam2_hf.data import write_val_video

SHAPES = ("disc", "pentagon", "triangle", "star")
FILLS = ("checker", "dots", "gradient", "flat")
BACKGROUNDS = ("blocks", "flat", "gradient")
MARGIN = 15  # pixels from the edge where an object's centre bounces


def _inside(shape: str, dx: np.ndarray, dy: np.ndarray, radius: float, angle: float) -> np.ndarray:
    distance, direction = np.hypot(dx, dy), np.arctan2(dy, dx) - angle
    if shape == "disc":
        return distance < radius
    if shape == "star":
        return distance < radius * (0.55 + 0.45 * np.cos(2.5 * direction) ** 2)
    sides = 5 if shape == "pentagon" else 3
    sector = 2 * np.pi / sides
    return distance * np.cos(np.mod(direction, sector) - sector / 2) < radius * np.cos(np.pi / sides)


def _fill(fill: str, rng: np.random.Generator, dx: np.ndarray, dy: np.ndarray, angle: float) -> np.ndarray:
    first, second = rng.uniform(0, 255, (2, 3))
    along = np.cos(angle) * dx + np.sin(angle) * dy
    across = -np.sin(angle) * dx + np.cos(angle) * dy
    period = rng.uniform(5, 10)
    if fill == "checker":
        weight = (np.floor(along / period) + np.floor(across / period)) % 2
    elif fill == "dots":
        weight = ((np.mod(along, period) - period / 2) ** 2 + (np.mod(across, period) - period / 2) ** 2
                  < (period / 3.5) ** 2).astype(float)
    elif fill == "gradient":
        weight = np.clip(along / 50 + 0.5, 0, 1)
    else:
        weight = np.zeros_like(along)
    return first + (second - first) * weight[..., None]


def _bounce(position: np.ndarray, size: float) -> np.ndarray:
    span = size - 2 * MARGIN
    folded = np.mod(position - MARGIN, 2 * span)
    return MARGIN + np.where(folded < span, folded, 2 * span - folded)


def render_clip(seed: int, num_frames: int = 48, height: int = 144, width: int = 192,
                num_objects: int = 3) -> tuple[np.ndarray, np.ndarray, str]:
    """Frames ``(T, H, W, 3)`` uint8, visible masks ``(T, N, H, W)`` and the background's kind."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    kind = str(rng.choice(BACKGROUNDS))
    if kind == "blocks":
        background = rng.uniform(0, 255, (height // 8 + 1, width // 8 + 1, 3)).repeat(8, 0).repeat(8, 1)[:height, :width]
    elif kind == "flat":
        background = np.ones((height, width, 3)) * rng.uniform(0, 255, 3)
    else:
        background = _fill("gradient", rng, xs - width / 2, ys - height / 2, rng.uniform(0, 2 * np.pi))
    objects = [dict(shape=str(rng.choice(SHAPES)), fill=str(rng.choice(FILLS)), radius=rng.uniform(12, 24),
                    start=rng.uniform([25, 25], [width - 25, height - 25]), velocity=rng.uniform(-2.5, 2.5, 2),
                    angle=rng.uniform(0, 2 * np.pi), spin=rng.uniform(-0.08, 0.08), fill_seed=int(rng.integers(1 << 30)))
               for _ in range(num_objects)]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    masks = np.zeros((num_frames, num_objects, height, width), bool)
    for t in range(num_frames):
        image = background + rng.normal(0, 4, background.shape)
        owner = np.full((height, width), -1)
        for index, obj in enumerate(objects):
            x = _bounce(obj["start"][0] + obj["velocity"][0] * t, width)
            y = _bounce(obj["start"][1] + obj["velocity"][1] * t, height)
            angle = obj["angle"] + obj["spin"] * t
            inside = _inside(obj["shape"], xs - x, ys - y, obj["radius"], angle)
            colors = _fill(obj["fill"], np.random.default_rng(obj["fill_seed"]), xs - x, ys - y, angle)
            image[inside] = colors[inside]
            owner[inside] = index
        frames[t] = np.clip(image, 0, 255).astype(np.uint8)
        masks[t] = owner[None] == np.arange(num_objects)[:, None, None]
    return frames, masks, kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder to write the clips into (SA-V val layout)")
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    kinds = []
    for k in range(args.videos):
        frames, masks, kind = render_clip(args.seed + k, args.frames)
        write_val_video(args.root, f"unseen_{args.seed + k:06d}", frames, masks)
        kinds.append(kind)
    print(f"wrote {args.videos} clips under {args.root}; backgrounds: "
          + ", ".join(f"{kind} {kinds.count(kind)}" for kind in BACKGROUNDS))


if __name__ == "__main__":
    main()
