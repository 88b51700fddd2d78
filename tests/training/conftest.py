"""Data the training tests share."""

from __future__ import annotations

import pytest

from sam2_hf.data import write_sav_dataset


@pytest.fixture(scope="module")
def sav(tmp_path_factory):
    """Three tiny synthetic training videos and one validation video, in SA-V's layouts."""
    root = tmp_path_factory.mktemp("sav")
    write_sav_dataset(root / "train", 3, seed=1, num_frames=24)
    write_sav_dataset(root / "val", 1, layout="val", seed=2, num_frames=12)
    return root
