"""Data-parallel training with PyTorch DistributedDataParallel: ``gloo`` on CPU, ``nccl`` on GPUs.

Every rank sees the same global batch order (a function of seed and epoch) and trains on its contiguous share
of each batch; the loss is scaled so that DDP's gradient averaging yields exactly the gradient of the global
batch mean, so K processes with batch B match one process with batch B. Rank 0 alone writes checkpoints and
outputs. ``launch`` spawns K local processes on loopback; under ``torchrun`` (several machines) the process
group is read from the environment instead.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    local_rank: int = 0
    backend: str = "gloo"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, indices: np.ndarray) -> np.ndarray:
        """This rank's contiguous share of one global batch."""
        return np.array_split(indices, self.world_size)[self.rank]

    def all_reduce_sum(self, value: torch.Tensor) -> torch.Tensor:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value

    def barrier(self) -> None:
        dist.barrier()


def context_from_environment() -> DistributedContext | None:
    """The process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT), or None."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    backend = "nccl" if torch.cuda.is_available() and os.environ.get("GNN_DRUG_DEVICE", "cpu") != "cpu" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return DistributedContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                              backend)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, backend: str, fn: Callable, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    threads = max(1, (os.cpu_count() or 1) // world_size)
    torch.set_num_threads(threads)
    dist.init_process_group(backend, rank=rank, world_size=world_size)
    try:
        fn(DistributedContext(rank, world_size, rank, backend), *args)
    finally:
        dist.destroy_process_group()


def launch(fn: Callable, nproc: int, args: tuple = (), backend: str = "gloo") -> None:
    """Run ``fn(context, *args)`` in ``nproc`` processes on this machine (loopback rendezvous)."""
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(nproc, _free_port(), backend, fn, args), nprocs=nproc, join=True)
