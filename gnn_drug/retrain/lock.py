"""One run of a job at a time: an ``fcntl`` lock on a file in the job's work folder.

The kernel drops the lock when its process dies (even by ``kill -9``), so there is never a stale lock to clean
up; the file's content (pid, host, start time) only serves the message a refused second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from gnn_drug.errors import GnnDrugError


class JobLockedError(GnnDrugError):
    """Another process holds the job's lock."""


class JobLock:
    def __init__(self, path: str | os.PathLike, job_name: str) -> None:
        self.path = Path(path)
        self.job_name = job_name
        self._handle = None

    def acquire(self) -> JobLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            try:
                info = json.loads(holder)
                who = f"pid {info['pid']} on {info['host']}, started {info['started_at']}"
            except (ValueError, KeyError):
                who = "another process"
            raise JobLockedError(f"job {self.job_name!r} is already running ({who}; lock {self.path}); "
                                 "this run exits without doing anything") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started_at": datetime.now(UTC).isoformat(timespec="seconds")}))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> JobLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
