"""Replacing an output folder so that no moment of an interrupted run loses the earlier output.

A run writes into a hidden sibling (``.NAME.partial``) and swaps it in only when complete. The
swap is two renames (each atomic on one file system): the earlier output aside to
``.NAME.previous``, the new one in; then the earlier one is deleted. Ctrl-C is held back during
the renames, and a kill between them leaves ``.NAME.previous``, which the next run puts back.
Deleting the earlier output before renaming the new one in, as a plain swap would, loses both
if the run is stopped in between.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
from pathlib import Path
from typing import Iterator


def staging_folder(output: Path) -> Path:
    """The hidden sibling a run writes ``output`` into until it is complete."""
    return output.parent / f".{output.name}.partial"


def _previous_folder(output: Path) -> Path:
    return output.parent / f".{output.name}.previous"


def restore_interrupted_replace(output: Path) -> None:
    """Put back an earlier output that a run killed in the middle of :func:`replace_folder` left
    aside, and drop that run's staging folder."""
    previous = _previous_folder(output)
    if previous.exists():
        if output.exists():  # the new output was already in place: the swap had finished
            shutil.rmtree(previous, ignore_errors=True)
        else:
            previous.rename(output)
    shutil.rmtree(staging_folder(output), ignore_errors=True)


def replace_folder(new: Path, output: Path) -> None:
    """Move folder ``new`` to ``output``, replacing an existing ``output``."""
    previous = _previous_folder(output)
    shutil.rmtree(previous, ignore_errors=True)
    with interrupts_held_back():
        if output.exists():
            output.rename(previous)
        new.rename(output)
    shutil.rmtree(previous, ignore_errors=True)


@contextlib.contextmanager
def interrupts_held_back() -> Iterator[None]:
    """Delay SIGINT and SIGTERM until the block is done (POSIX main thread; elsewhere a no-op):
    a Ctrl-C arriving inside it is raised as KeyboardInterrupt after it."""
    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
