"""What this CPU computes natively, read from Linux's ``/proc/cpuinfo``.

PyTorch multiplies bfloat16 (and float16) matrices at their own speed only on CPUs with the
instructions for them; elsewhere it emulates them in float32, and reduced precision gets much
slower instead of faster (hiera-tiny's image encoder on a 2-core AVX2 EPYC: 75 s in bfloat16
against 3.5 s for the official model in float32, ``benchmarks/2026-12-07-*-amd-epyc.md``).
"""

from __future__ import annotations

import functools

import torch

# Flags that name native instructions for a dtype: x86 AVX-512 and AMX, ARM's bf16 / half floats.
NATIVE_INSTRUCTION_FLAGS = {
    torch.bfloat16: frozenset({"avx512_bf16", "amx_bf16", "bf16"}),
    torch.float16: frozenset({"avx512_fp16", "amx_fp16", "fphp"}),
}


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str] | None:
    """The first CPU's instruction-set flags (x86 ``flags``, ARM ``Features``); None where
    ``/proc/cpuinfo`` cannot be read (not Linux), as nothing is then known."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                name, _, value = line.partition(":")
                if name.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        return None
    return None


def cpu_has_bfloat16_matrix_units() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in AMX tiles (the ``amx_bf16`` flag)."""
    return "amx_bf16" in (cpu_flags() or ())


def emulated_precision_warning(dtype: torch.dtype | None, device: torch.device) -> str | None:
    """Why computing in ``dtype`` on ``device`` will be slow, or None: a reduced precision asked
    for on a CPU known to lack instructions for it."""
    flags = cpu_flags()
    if device.type != "cpu" or dtype not in NATIVE_INSTRUCTION_FLAGS or flags is None:
        return None
    if flags & NATIVE_INSTRUCTION_FLAGS[dtype]:
        return None
    wanted = ", ".join(sorted(NATIVE_INSTRUCTION_FLAGS[dtype]))
    return (f"{str(dtype).removeprefix('torch.')} on this CPU is emulated (it has none of {wanted}) "
            "and runs many times slower than float32 (20x measured on an AVX2 EPYC); "
            "use float32 here, or a GPU or a CPU with those instructions")
