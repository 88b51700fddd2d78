"""Swapping a finished output folder in: at no point of an interruption is the earlier output lost."""

import signal

import pytest

from sam2_hf.outputs import replace_folder, restore_interrupted_replace, staging_folder
from sam2_hf.outputs.folders import interrupts_held_back


def make_folder(path, text):
    path.mkdir()
    (path / "file.txt").write_text(text)
    return path


def test_replace_folder_swaps_in_the_new_output_and_keeps_nothing_else(tmp_path):
    output = make_folder(tmp_path / "out", "earlier")
    replace_folder(make_folder(staging_folder(output), "new"), output)
    assert (output / "file.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_replace_folder_creates_a_missing_output(tmp_path):
    output = tmp_path / "out"
    replace_folder(make_folder(tmp_path / "staged", "new"), output)
    assert (output / "file.txt").read_text() == "new"


def test_a_run_killed_between_the_renames_gets_its_earlier_output_back(tmp_path):
    # The state a SIGKILL between the swap's two renames leaves: the earlier output set aside,
    # the finished new one still staged, no output.
    output = tmp_path / "out"
    make_folder(tmp_path / ".out.previous", "earlier")
    make_folder(staging_folder(output), "new, but its run was killed")
    restore_interrupted_replace(output)
    assert (output / "file.txt").read_text() == "earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_set_aside_output_left_after_the_swap_finished_is_dropped(tmp_path):
    output = make_folder(tmp_path / "out", "new")
    make_folder(tmp_path / ".out.previous", "earlier")
    restore_interrupted_replace(output)
    assert (output / "file.txt").read_text() == "new" and not (tmp_path / ".out.previous").exists()


def test_ctrl_c_inside_the_swap_is_raised_after_it():
    done = []
    # Python's own Ctrl-C handler, whatever this process inherited (started in the background by
    # a shell, it ignores SIGINT).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with interrupts_held_back():
                signal.raise_signal(signal.SIGINT)
                done.append("the block ran to its end")
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert done == ["the block ran to its end"]
