"""An optional on-disk store of every frame's latest result, so past frames can be read back
without keeping them in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class OutputStore:
    """One compressed ``.npz`` per frame: object ids, low-res mask logits (float16) and object
    scores. About 30-130 kB per object and frame; re-tracking a frame overwrites its file."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, frame_idx: int) -> Path:
        return self.folder / f"{frame_idx:06d}.npz"

    def save(self, frame_idx: int, object_ids: list[int], low_res: torch.Tensor, scores: torch.Tensor) -> None:
        np.savez_compressed(
            self._path(frame_idx),
            object_ids=np.asarray(object_ids, dtype=np.int64),
            low_res=low_res.detach().cpu().to(torch.float16).numpy(),
            scores=scores.detach().cpu().float().numpy(),
        )

    def load(self, frame_idx: int) -> tuple[list[int], torch.Tensor, torch.Tensor]:
        path = self._path(frame_idx)
        if not path.is_file():
            raise ValueError(f"no stored result for frame {frame_idx} in {self.folder}")
        with np.load(path) as data:
            return data["object_ids"].tolist(), torch.from_numpy(data["low_res"]).float(), torch.from_numpy(data["scores"])

    def frames(self) -> list[int]:
        return sorted(int(p.stem) for p in self.folder.glob("*.npz"))
