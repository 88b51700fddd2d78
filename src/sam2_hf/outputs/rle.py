"""COCO run-length encoding, the mask format of SA-V's masklet files.

A mask is flattened in column-major (Fortran) order into alternating runs of 0s and 1s, starting
with 0s. The compressed string form writes each run length (from the fourth on, as the difference
to the run two before it) as little-endian groups of 5 bits, 6 bits per character offset by 48,
the 6th bit flagging that more groups follow. Strings written here decode with pycocotools and
back, bit for bit.
"""

from __future__ import annotations

import numpy as np


def mask_to_runs(mask: np.ndarray) -> list[int]:
    """Run lengths of a 2-D mask in column-major order, the first run counting 0s."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs.insert(0, 0)
    return runs


def runs_to_string(runs: list[int]) -> str:
    chars = []
    for i, run in enumerate(runs):
        value = run - runs[i - 2] if i > 2 else run
        more = True
        while more:
            group = value & 0x1F
            value >>= 5
            # Stop once the rest is the sign extension of this group's top bit.
            more = value != -1 if group & 0x10 else value != 0
            chars.append(chr(group + 48 + (0x20 if more else 0)))
    return "".join(chars)


def string_to_runs(counts: str) -> list[int]:
    runs: list[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(counts):
                raise ValueError("truncated RLE string")
            code = ord(counts[position]) - 48
            if not 0 <= code < 64:
                raise ValueError(f"invalid character {counts[position]!r} in an RLE string")
            value |= (code & 0x1F) << shift
            more = bool(code & 0x20)
            position += 1
            shift += 5
            if not more and code & 0x10:
                value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def encode_rle(mask: np.ndarray) -> dict:
    """``(H, W)`` mask -> ``{"size": [H, W], "counts": str}`` (COCO compressed RLE)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"RLE encodes one 2-D mask, got shape {mask.shape}")
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": runs_to_string(mask_to_runs(mask))}


def rle_runs(rle: dict) -> tuple[int, int, list[int]]:
    """``(H, W, run lengths)`` of a COCO RLE (compressed string or list of counts), checked."""
    try:
        height, width = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"an RLE is a dict with 'size': [H, W] and 'counts', got {str(rle)[:80]}") from None
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = string_to_runs(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if any(run < 0 for run in runs) or sum(runs) != height * width:
        raise ValueError(f"RLE runs cover {sum(runs)} pixels, the size {height}x{width} needs {height * width}")
    return height, width, runs


def decode_rle(rle: dict) -> np.ndarray:
    """COCO RLE (compressed string or list of counts) -> ``(H, W)`` bool mask."""
    height, width, runs = rle_runs(rle)
    values = np.arange(len(runs)) % 2 == 1
    return np.repeat(values, runs).reshape((height, width), order="F")


def rle_area(rle: dict) -> int:
    """Foreground pixels of an RLE without decoding it."""
    return int(sum(rle_runs(rle)[2][1::2]))
