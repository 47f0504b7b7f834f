"""Memory: pausing Python's cyclic garbage collector while many long-lived objects are built,
and how much memory is still to be had."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Bulk runs (import, apply, projection rebuilds) keep millions of small objects alive
    until one write at the end and make none of them cyclic; full collections would only walk
    them again and again (a third of the run on 500,000 events). Code run with it paused must
    leave no cyclic garbage behind per row or event: nothing would free it until the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def memory_available() -> tuple[int | None, int | None]:
    """Bytes of memory still to be had, as far as Linux tells (None: unknown, or no limit):
    for all processes together, the lesser of the machine's available memory and free swap
    and what the limit of its container (cgroup) leaves; and for this process alone, what its
    address-space limit (`ulimit -v`) leaves it."""
    together = _meminfo_available()
    group = _cgroup_headroom()
    if group is not None:
        together = group if together is None else min(together, group)
    return together, _address_space_headroom()


def shortfall(need: int, processes: int = 1) -> str | None:
    """Why `need` bytes, taken by `processes` processes together, are not to be had ("this
    machine has 300 MB free", "`ulimit -v` leaves 90 MB free"); None if they are, as far as
    Linux tells."""
    together, own = memory_available()
    for have, where in ((together, "this machine has"),
                        (None if own is None else own * processes, "`ulimit -v` leaves")):
        if have is not None and need > have:
            return f"{where} {size_text(have)} free"
    return None


def size_text(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as file:
            return file.read()
    except (OSError, ValueError):
        return None


def _kilobytes(text: str | None, name: str) -> int | None:
    """The value of a `name: N kB` line of a /proc file, in bytes."""
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        if key == name and value.split()[1:] == ["kB"]:
            return int(value.split()[0]) * 1024
    return None


def _meminfo_available() -> int | None:
    meminfo = _read("/proc/meminfo")
    available = _kilobytes(meminfo, "MemAvailable")
    return None if available is None else available + (_kilobytes(meminfo, "SwapFree") or 0)


def _cgroup_headroom() -> int | None:
    """The least that the memory limit of this process's cgroup, or of one above it, leaves
    (cgroup v2, or the memory controller of v1). What the group uses is counted as container
    tools count it (its "working set"): less the file cache that is not in active use, which
    the kernel takes back before it runs out."""
    least = None
    for line in (_read("/proc/self/cgroup") or "").splitlines():
        controllers, _, path = line.partition(":")[2].partition(":")
        if not controllers:
            root, limit_file, usage_file, cache = ("/sys/fs/cgroup", "memory.max",
                                                   "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):
            root, limit_file, usage_file, cache = ("/sys/fs/cgroup/memory",
                                                   "memory.limit_in_bytes",
                                                   "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        group = root + path.rstrip("/")
        while group.startswith(root):
            limit, used = _number(f"{group}/{limit_file}"), _number(f"{group}/{usage_file}")
            if limit is not None and used is not None:
                stat = dict(entry.split(" ", 1) for entry in
                            (_read(f"{group}/memory.stat") or "").splitlines() if " " in entry)
                cached = stat.get(cache, "").strip()
                used -= int(cached) if cached.isdigit() else 0
                left = max(limit - max(used, 0), 0)
                least = left if least is None else min(least, left)
            group = os.path.dirname(group)
    return least


def _number(path: str) -> int | None:
    """A file's number (None: no such file, or "max")."""
    text = (_read(path) or "").strip()
    return int(text) if text.isdigit() else None


def _address_space_headroom() -> int | None:
    try:
        import resource
    except ImportError:  # not Unix
        return None
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    size = _kilobytes(_read("/proc/self/status"), "VmSize")
    if limit == resource.RLIM_INFINITY or size is None:
        return None
    return max(limit - size, 0)
