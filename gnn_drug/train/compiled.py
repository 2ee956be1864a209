"""Inference through ``torch.compile``: one compiled forward pass per model, reused for every batch.

Message passing on a CPU is bound by its element-wise steps (gathers, the reverse-edge subtraction, adding the
input state, ReLU), each a full pass over an [edges, hidden] tensor; Inductor fuses them into a few loops. For the
D-MPNN in bfloat16 that is ~1.7x faster per molecule. Compiling takes 5-40 s once per process (and a C++
compiler), so it pays for long predictions such as a library screen, not for a handful of molecules.
"""

from __future__ import annotations

import shutil
import warnings
import weakref
from collections.abc import Callable

import torch
from torch import nn

COMPILE_MODES = ("auto", "on", "off")
_COMPILED: weakref.WeakKeyDictionary[nn.Module, Callable] = weakref.WeakKeyDictionary()
_FAILED: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def compiler_available() -> bool:
    """Inductor's CPU kernels are C++ built at run time: without a compiler on the PATH compiling cannot work."""
    return any(shutil.which(name) for name in ("g++", "c++", "clang++"))


def run_compiled(model: nn.Module, batch) -> torch.Tensor:
    """``model(batch)`` through the model's compiled forward pass (compiled on first use, with dynamic shapes so
    that batches of any size share one compiled graph). If compiling fails, a warning says why and the model runs
    eagerly from then on — same outputs, only slower."""
    if model in _FAILED:
        return model(batch)
    forward = _COMPILED.get(model)
    if forward is None:
        import torch._inductor.config as inductor_config

        # compile in this process: a pool of compile workers would hold memory for as long as the screen runs
        inductor_config.compile_threads = 1
        forward = _COMPILED[model] = torch.compile(model, dynamic=True)
    try:
        return forward(batch)
    except Exception as exc:  # Inductor/Dynamo raise many types (no compiler, unsupported op, ...)
        _FAILED.add(model)
        _COMPILED.pop(model, None)
        warnings.warn(f"torch.compile failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                      "running the model without compiling", RuntimeWarning, stacklevel=2)
        return model(batch)
