"""Synthetic videos in SA-V's formats, so training, tests and the demo model have data offline.

Each video has a smooth textured background and a few objects (ellipses, rectangles, triangles;
striped or plain, some in colours close to the background) that move along their own paths,
rotate, grow and shrink, pass in front of each other, leave the frame and come back. Distractors
are never annotated and are look-alikes, as two dogs in a real video are: a target's shape and
kind of texture, but at least one visible attribute changed (a stripe colour shifted by 40+
levels, the stripe angle or frequency, or the size by 20%+), so a tracker has to follow the right
one. ``twins=True`` makes them exact copies instead: a hard case no appearance can settle, kept as
a separate evaluation subset. A ``chasing_probability`` share of the distractors follow their
target's path a little behind it, crossing and covering it again and again: training videos full
of the moments where a tracker jumps to the look-alike. An ``emerging_probability`` share of
them start hidden behind their target on the first frame and come out from behind it on their
own path: the clicked object then has a look-alike the first frame barely shows, and a tracker
that let its mask spread onto it as the two part is what the README example caught (runs 13
and 14). ``variety=True`` widens the look of a
video beyond these: backgrounds that are blocky (hard edges everywhere), one flat colour, a
gradient or a large pattern; stars and hexagons; checkered, dotted and ringed textures. A model
trained only on the smooth backgrounds and striped sprites takes "sharp edge against a smooth
background" for "object" and loses objects on other generators' clips. Masks are the visible (modal) parts, as in SA-V. :func:`write_sav_dataset` writes the training layout (``sav_*.mp4`` + ``*_manual.json``
with RLE masklets every 4th frame) or the val/test layout (JPEG frames + per-object PNGs), which
:mod:`sam2_hf.data.sav` reads exactly as it reads the real dataset.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from ..outputs.masklets import MaskletJsonWriter

ANNOTATION_STRIDE = 4  # SA-V annotates every 4th frame of its 24 fps videos (6 fps)
FPS = 24
SHAPES = ("ellipse", "rectangle", "triangle")
PLAIN_PROBABILITY = 0.25  # objects of one colour: "striped" must not be what makes an object
LOW_CONTRAST_PROBABILITY = 0.2  # objects in colours close to the background's
LOW_CONTRAST_LEVELS = 30  # how far (per channel) such an object's colours stray from the background's mean
MIN_COLOR_SHIFT = 40  # a look-alike's changed stripe colour differs by at least this, in one channel
CHASE_LAG = (0.1, 0.4)  # how far (path phase, radians) a chasing distractor trails or leads its target
EMERGE_OFFSET = 0.25  # an emerging distractor's first-frame centre lies within this share of its target's half size
# With variety=True (the shapes and textures above come first, so their draws keep their meaning):
VARIED_SHAPES = SHAPES + ("star", "hexagon")
TEXTURES = ("stripes", "checker", "dots", "rings")
BACKGROUNDS = ("smooth", "blocky", "flat", "gradient", "pattern")


@dataclass
class _Sprite:
    shape: str
    half_size: np.ndarray  # (2,) half width / height before scaling
    colors: np.ndarray  # (2, 3) the two colours of its stripes
    stripe_frequency: float
    stripe_angle: float
    path_center: np.ndarray  # (2,) in pixels
    path_radius: np.ndarray  # (2,) may exceed the frame: the sprite leaves and comes back
    path_speed: np.ndarray  # (2,) radians per frame
    path_phase: np.ndarray  # (2,)
    spin: float  # radians per frame
    pulse: float  # relative size change amplitude
    depth: float  # larger is nearer the camera
    texture: str = "stripes"  # how its two colours are laid out (TEXTURES)


def _random_colors(rng: np.random.Generator, background_mean: np.ndarray) -> np.ndarray:
    """The two stripe colours: random, one colour twice (plain), or near the background (low contrast)."""
    if rng.random() < LOW_CONTRAST_PROBABILITY:
        colors = background_mean + rng.uniform(-LOW_CONTRAST_LEVELS, LOW_CONTRAST_LEVELS, (2, 3))
    else:
        colors = rng.integers(0, 256, (2, 3)).astype(np.float64)
    if rng.random() < PLAIN_PROBABILITY:
        colors[1] = colors[0]
    return np.clip(colors, 0, 255).astype(np.float32)


def _random_sprite(rng: np.random.Generator, height: int, width: int, background_mean: np.ndarray,
                   variety: bool = False) -> _Sprite:
    size = min(height, width)
    sprite = _Sprite(
        shape=str(rng.choice(SHAPES)),
        half_size=rng.uniform(0.08, 0.2, 2) * size,
        colors=_random_colors(rng, background_mean),
        stripe_frequency=rng.uniform(0.15, 0.6),
        stripe_angle=rng.uniform(0, np.pi),
        path_center=np.array([rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height]),
        path_radius=np.array([rng.uniform(0.1, 0.65) * width, rng.uniform(0.1, 0.5) * height]),
        path_speed=rng.uniform(0.02, 0.12, 2) * rng.choice([-1, 1], 2),
        path_phase=rng.uniform(0, 2 * np.pi, 2),
        spin=rng.uniform(-0.08, 0.08),
        pulse=rng.uniform(0.0, 0.3),
        depth=rng.uniform(),
    )
    if variety:  # drawn after the rest: without variety a sprite is what it always was
        sprite.shape, sprite.texture = str(rng.choice(VARIED_SHAPES)), str(rng.choice(TEXTURES))
    return sprite


def _look_alike(rng: np.random.Generator, sprite: _Sprite, height: int, width: int, background_mean: np.ndarray,
                twin: bool = False, variety: bool = False) -> _Sprite:
    """Same shape and kind of texture on its own path, with one visible attribute changed (none
    for a ``twin``): a stripe colour, the stripe angle or frequency (striped sprites only), or
    the size. Rings have no angle to change."""
    other = _random_sprite(rng, height, width, background_mean, variety)
    other.shape, other.half_size, other.colors = sprite.shape, sprite.half_size.copy(), sprite.colors.copy()
    other.texture = sprite.texture
    other.stripe_frequency, other.stripe_angle = sprite.stripe_frequency, sprite.stripe_angle
    if twin:
        return other
    plain = np.array_equal(sprite.colors[0], sprite.colors[1])
    if plain:
        changes = ["color", "size"]
    elif sprite.texture == "rings":
        changes = ["color", "frequency", "size"]
    else:
        changes = ["color", "angle", "frequency", "size"]
    change = str(rng.choice(changes))
    if change == "color":
        # Shift one channel by 40-100 levels, away from the end it is nearest to; a plain sprite's
        # look-alike stays plain.
        stripe, channel = int(rng.integers(2)), int(rng.integers(3))
        value = other.colors[stripe, channel]
        shift = rng.uniform(MIN_COLOR_SHIFT, 100) * (1 if value < 128 else -1)
        rows = [0, 1] if plain else [stripe]
        other.colors[rows, channel] = np.clip(value + shift, 0, 255)
    elif change == "angle":
        other.stripe_angle = sprite.stripe_angle + rng.uniform(np.pi / 6, np.pi / 2) * rng.choice([-1, 1])
    elif change == "frequency":
        other.stripe_frequency = sprite.stripe_frequency * rng.uniform(1.6, 2.2) ** rng.choice([-1, 1])
    else:
        other.half_size = sprite.half_size * rng.uniform(1.25, 1.5) ** rng.choice([-1, 1])
    return other


def _chase(rng: np.random.Generator, sprite: _Sprite, target: _Sprite) -> None:
    """Put ``sprite`` on ``target``'s path at a phase lag: the two drift apart and meet again
    (their distance swings between 0 and about the lag times the path radius)."""
    sprite.path_center, sprite.path_radius, sprite.path_speed = target.path_center, target.path_radius, target.path_speed
    sprite.path_phase = target.path_phase + rng.uniform(*CHASE_LAG) * rng.choice([-1, 1])


def _emerge(rng: np.random.Generator, sprite: _Sprite, target: _Sprite) -> None:
    """Move ``sprite``'s path so that on frame 0 it lies behind ``target``, its centre within
    ``EMERGE_OFFSET`` of the target's half size from the target's; its own radius, speed and
    phase then carry it out from behind."""
    start = target.path_center + target.path_radius * np.sin(target.path_phase)
    offset = rng.uniform(-EMERGE_OFFSET, EMERGE_OFFSET, 2) * target.half_size
    sprite.path_center = start + offset - sprite.path_radius * np.sin(sprite.path_phase)
    if sprite.depth > target.depth:
        sprite.depth, target.depth = target.depth, sprite.depth


def _draw(sprite: _Sprite, t: int, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sprite's coverage (bool) and colours (float RGB) on frame ``t``."""
    center = sprite.path_center + sprite.path_radius * np.sin(sprite.path_speed * t + sprite.path_phase)
    angle = sprite.spin * t
    scale = 1.0 + sprite.pulse * np.sin(0.07 * t + sprite.path_phase[0])
    dx, dy = xs - center[0], ys - center[1]
    u = (np.cos(angle) * dx + np.sin(angle) * dy) / (sprite.half_size[0] * scale)
    v = (-np.sin(angle) * dx + np.cos(angle) * dy) / (sprite.half_size[1] * scale)
    if sprite.shape == "ellipse":
        inside = u**2 + v**2 <= 1
    elif sprite.shape == "rectangle":
        inside = (np.abs(u) <= 1) & (np.abs(v) <= 1)
    elif sprite.shape == "triangle":  # pointing up in its own frame
        inside = (v <= 1) & (v >= 2 * np.abs(u) - 1)
    elif sprite.shape == "star":  # five points, the inner corners at half the outer radius
        inside = np.hypot(u, v) <= 0.5 + 0.5 * np.cos(2.5 * np.arctan2(v, u)) ** 2
    else:  # hexagon: within the apothem of the nearest of its six sides
        sector = np.mod(np.arctan2(v, u), np.pi / 3) - np.pi / 6
        inside = np.hypot(u, v) * np.cos(sector) <= np.cos(np.pi / 6)
    first_color = _texture(sprite, u, v)
    colors = np.where(first_color[..., None], sprite.colors[0], sprite.colors[1])
    return inside, colors


def _texture(sprite: _Sprite, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Where the sprite shows its first colour, in its own (rotating, scaling) frame ``u, v``."""
    scale = sprite.stripe_frequency * sprite.half_size.mean()
    cos, sin = np.cos(sprite.stripe_angle), np.sin(sprite.stripe_angle)
    along, across = (u * cos + v * sin) * scale, (v * cos - u * sin) * scale
    if sprite.texture == "stripes":
        return np.sin(along) > 0
    if sprite.texture == "checker":
        return np.sin(along) * np.sin(across) > 0
    if sprite.texture == "dots":
        return np.cos(along) + np.cos(across) > 1
    return np.sin(np.hypot(u, v) * scale) > 0  # rings


def _background(rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray, variety: bool) -> np.ndarray:
    """Float RGB ``(H, W, 3)`` on the pixel grid ``xs, ys``: smooth colour blobs; with
    ``variety`` also blocky, flat, gradient or patterned ones."""
    height, width = xs.shape
    kind = str(rng.choice(BACKGROUNDS)) if variety else "smooth"
    if kind in ("smooth", "blocky"):
        block = 16 if kind == "smooth" else int(rng.choice([6, 8, 12]))
        coarse = rng.uniform(40, 200, (max(2, height // block), max(2, width // block), 3)).astype(np.uint8)
        resample = Image.Resampling.BICUBIC if kind == "smooth" else Image.Resampling.NEAREST
        background = np.asarray(Image.fromarray(coarse).resize((width, height), resample), np.float32)
    else:
        first, second = rng.uniform(30, 220, (2, 3)).astype(np.float32)
        angle = rng.uniform(0, np.pi)
        along = xs * np.cos(angle) + ys * np.sin(angle)
        if kind == "flat":
            weight = np.zeros_like(along)
        elif kind == "gradient":
            weight = (along - along.min()) / max(float(np.ptp(along)), 1.0)
        else:  # large stripes of two colours: straight edges that are not objects
            weight = (np.sin(along * rng.uniform(0.05, 0.2)) > 0).astype(np.float32)
        background = first + (second - first) * weight[..., None]
    return background + rng.normal(0, 6, background.shape)


def render_video(seed: int, num_frames: int = 32, height: int = 96, width: int = 128, num_objects: int = 2,
                 num_distractors: int = 1, twins: bool = False, chasing_probability: float = 0.0,
                 variety: bool = False, emerging_probability: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(T, H, W, 3)`` uint8 and visible masks ``(T, num_objects, H, W)`` bool; with
    ``twins`` the distractors are exact copies of their targets; each distractor chases its
    target with ``chasing_probability``, or else starts hidden behind it with
    ``emerging_probability``; ``variety`` draws backgrounds, shapes and textures from
    the wider sets."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    background = _background(rng, xs, ys, variety)
    background_mean = background.mean(axis=(0, 1))
    targets = [_random_sprite(rng, height, width, background_mean, variety) for _ in range(num_objects)]
    distractors = [_look_alike(rng, targets[i % num_objects], height, width, background_mean, twins, variety)
                   for i in range(num_distractors)] if targets else []
    chasers = set()
    if chasing_probability > 0:  # no draw otherwise: the videos made without chasing stay what they were
        for i, distractor in enumerate(distractors):
            if rng.random() < chasing_probability:
                _chase(rng, distractor, targets[i % num_objects])
                chasers.add(i)
    if emerging_probability > 0:  # as above: no draw unless asked for
        for i, distractor in enumerate(distractors):
            if i not in chasers and rng.random() < emerging_probability:
                _emerge(rng, distractor, targets[i % num_objects])
    layers = sorted([(s.depth, i) for i, s in enumerate(targets)] + [(s.depth, -1 - i) for i, s in enumerate(distractors)])
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    masks = np.zeros((num_frames, num_objects, height, width), bool)
    for t in range(num_frames):
        image = background.copy()
        owner = np.full((height, width), -1_000, np.int64)  # which sprite is visible at each pixel
        for _, index in layers:  # far to near: nearer sprites cover farther ones
            sprite = targets[index] if index >= 0 else distractors[-1 - index]
            inside, colors = _draw(sprite, t, xs, ys)
            image[inside] = colors[inside]
            owner[inside] = index
        for i in range(num_objects):
            masks[t, i] = owner == i
        frames[t] = np.clip(image, 0, 255).astype(np.uint8)
    return frames, masks


def write_sav_dataset(
    root: str | Path,
    num_videos: int,
    layout: Literal["train", "val"] = "train",
    seed: int = 0,
    num_frames: int = 32,
    height: int = 96,
    width: int = 128,
    num_objects: int = 2,
    num_distractors: int = 1,
    twins: bool = False,
    chasing_probability: float = 0.0,
    variety: bool = False,
    emerging_probability: float = 0.0,
    annotation_stride: int = ANNOTATION_STRIDE,
    workers: int = 1,
) -> list[str]:
    """Write ``num_videos`` synthetic videos in SA-V's train or val/test layout; returns their ids.

    Video ``k`` is rendered from seed ``seed * 100_000 + k``: other seeds give other videos;
    ``twins`` makes the distractors exact copies of their targets, ``chasing_probability``
    puts that share of them on their target's path and ``emerging_probability`` that share of
    the others behind their target on the first frame; ``variety`` widens backgrounds, shapes and
    textures (see :func:`render_video`).
    Masks are written every ``annotation_stride`` frames: SA-V's 4 (6 fps of 24), or 1 for
    training on the consecutive frames a tracker sees (the json then lists its frames, which SA-V's
    own files leave out). ``workers`` processes render videos side by side (the files are the same
    for any number)."""
    if layout not in ("train", "val"):
        raise ValueError(f"layout is 'train' or 'val', got {layout!r}")
    if annotation_stride < 1:
        raise ValueError(f"annotation_stride must be at least 1, got {annotation_stride}")
    for name, probability in (("chasing_probability", chasing_probability), ("emerging_probability", emerging_probability)):
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {probability}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    scene = (num_frames, height, width, num_objects, num_distractors, twins, chasing_probability, variety,
             emerging_probability)
    jobs = [(root, layout, seed * 100_000 + k, scene, annotation_stride) for k in range(num_videos)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(_write_video, jobs))
    return [_write_video(job) for job in jobs]


def _write_video(job: tuple) -> str:
    root, layout, video_seed, scene, annotation_stride = job
    video_id = f"sav_{video_seed:06d}"
    frames, masks = render_video(video_seed, *scene)
    (_write_train_video if layout == "train" else write_val_video)(root, video_id, frames, masks, annotation_stride)
    return video_id


def _write_train_video(root: Path, video_id: str, frames: np.ndarray, masks: np.ndarray, annotation_stride: int) -> None:
    import av

    height, width = frames.shape[1:3]
    with av.open(str(root / f"{video_id}.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "12"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    writer = MaskletJsonWriter(root / f"{video_id}_manual.json", video_id, height, width, fps=FPS, masklet_type="manual")
    object_ids = list(range(masks.shape[1]))
    for t in range(0, len(frames), annotation_stride):
        writer.write(t, masks[t], object_ids)
    data = writer.to_dict(num_frames=len(frames))
    # Real SA-V files: no frame index list (rows are every 4th frame) and first-appeared counted
    # in annotated frames, which is what the writer's row index already is.
    if annotation_stride == ANNOTATION_STRIDE:
        data.pop("masklet_frame_indices")
    data["video_split"] = "train"
    (root / f"{video_id}_manual.json").write_text(json.dumps(data))


def write_val_video(root: Path, video_id: str, frames: np.ndarray, masks: np.ndarray, annotation_stride: int = ANNOTATION_STRIDE) -> None:
    """One video in SA-V's val/test layout: JPEG frames ``(T, H, W, 3)`` and, every
    ``annotation_stride`` frames, a PNG per object of ``masks`` ``(T, N, H, W)``."""
    frame_dir = root / "JPEGImages_24fps" / video_id
    frame_dir.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(frame_dir / f"{t:05d}.jpg", quality=95)
    for obj in range(masks.shape[1]):
        mask_dir = root / "Annotations_6fps" / video_id / f"{obj:03d}"
        mask_dir.mkdir(parents=True, exist_ok=True)
        for t in range(0, len(frames), annotation_stride):
            Image.fromarray(masks[t, obj].astype(np.uint8) * 255).save(mask_dir / f"{t:05d}.png")
