"""The process environment around code that writes to it.

A Dask nanny started in a process writes its workers' settings (dask's
``distributed.nanny.pre-spawn-environ``: OMP_, MKL_ and OPENBLAS_NUM_THREADS=1,
MALLOC_TRIM_THRESHOLD_, and PYTHONHASHSEED when unset) into that process's own ``os.environ``
(dask/distributed#6681), where every subprocess started afterwards inherits them. The product's
local clusters (``headline-score --dask local``, ``make tune`` with
``HEADLINE_DASK_SCHEDULER=local``) run inside :func:`environ_restored`, and are built with
:func:`local_cluster_options`. Neither imports Dask: the core stays free of it.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any


def restore_environ(snapshot: Mapping[str, str], leave: Collection[str] = ()) -> None:
    """Make ``os.environ`` ``snapshot`` again, only where it differs; the names in ``leave``
    are left as they are."""
    for key in set(os.environ) - set(snapshot) - set(leave):
        del os.environ[key]
    for key, value in snapshot.items():
        if key not in leave and os.environ.get(key) != value:
            os.environ[key] = value


@contextmanager
def environ_restored() -> Iterator[None]:
    """Put ``os.environ`` back as it was on entry when the block ends, however it ends."""
    snapshot = dict(os.environ)
    try:
        yield
    finally:
        restore_environ(snapshot)


def local_cluster_options() -> dict[str, Any]:
    """Keyword arguments of ``distributed.LocalCluster`` for the product's local clusters (and
    the tests'): worker processes of one thread each, since scoring is pure Python and holds
    the GIL; no dashboard; and the scheduler's HTTP routes (health, metrics), which
    ``dashboard_address=None`` alone leaves on Dask's fixed port 8787, on a free loopback
    port, so that two clusters on one machine neither clash nor warn. A fresh dict each call:
    the cluster may keep what it is given."""
    return {"processes": True, "threads_per_worker": 1, "dashboard_address": None,
            "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}
