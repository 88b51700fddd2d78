from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sam2_hf.outputs import decode_rle, encode_rle
from sam2_hf.outputs.rle import mask_to_runs, rle_area

SAV_EXAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sav_example" / "sav_000001_manual.json"

masks = st.tuples(st.integers(1, 40), st.integers(1, 40)).flatmap(lambda shape: arrays(bool, shape))


@settings(max_examples=300, deadline=None)
@given(masks)
def test_round_trip(mask):
    rle = encode_rle(mask)
    assert rle["size"] == list(mask.shape)
    assert np.array_equal(decode_rle(rle), mask)
    assert rle_area(rle) == mask.sum()


@settings(max_examples=200, deadline=None)
@given(masks)
def test_strings_match_pycocotools(mask):
    coco = pytest.importorskip("pycocotools.mask")
    reference = coco.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert encode_rle(mask)["counts"] == reference["counts"].decode()
    assert np.array_equal(decode_rle(reference), mask)


def test_runs_are_column_major_starting_with_zeros():
    mask = np.array([[1, 0], [1, 1]], bool)  # column-major: 1 1 0 1
    assert mask_to_runs(mask) == [0, 2, 1, 1]
    assert decode_rle({"size": [2, 2], "counts": [0, 2, 1, 1]}).tolist() == mask.tolist()


def test_real_sav_annotations_round_trip_exactly():
    if not SAV_EXAMPLE.is_file():
        pytest.skip("../shared/data/sav_example is not beside the repository")
    masklets = json.loads(SAV_EXAMPLE.read_text())
    areas = np.zeros(masklets["masklet_num"])
    visible = np.zeros(masklets["masklet_num"])
    for row in masklets["masklet"]:
        for i, rle in enumerate(row):
            mask = decode_rle(rle)
            assert mask.shape == (848, 480)
            assert encode_rle(mask)["counts"] == rle["counts"]
            areas[i] += mask.sum()
            visible[i] += mask.any()
    # The file's own statistics: mean visible area per object.
    np.testing.assert_allclose(areas / visible, masklets["masklet_size_abs"], rtol=1e-6)


@pytest.mark.parametrize(
    "rle, message",
    [
        ({"size": [2, 2], "counts": [1, 2]}, "cover 3 pixels"),
        ({"size": [2, 2], "counts": "\x7f"}, "invalid character"),
        ({"counts": "00"}, "'size'"),
    ],
)
def test_bad_rle(rle, message):
    with pytest.raises(ValueError, match=message):
        decode_rle(rle)
