"""The process environment around code that writes to it.

A Dask nanny started in a process writes its workers' settings (dask's
``distributed.nanny.pre-spawn-environ``: OMP_, MKL_ and OPENBLAS_NUM_THREADS=1,
MALLOC_TRIM_THRESHOLD_, and PYTHONHASHSEED when unset) into that process's own ``os.environ``
(dask/distributed#6681), where every subprocess started afterwards inherits them. The product's
local clusters (``headline-score --dask local``, ``make tune`` with
``HEADLINE_DASK_SCHEDULER=local``) run inside :func:`environ_restored`.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager


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
