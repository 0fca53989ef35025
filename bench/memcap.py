"""Run a benchmark subprocess inside its own memory cgroup with a hard limit (Linux, root).

Sampled RSS can miss a short spike, and RSS counts a fork's shared pages twice. A cgroup's
limit cannot be missed: the kernel charges every page the process and its forks touch, reclaims
page cache to stay under the limit, and kills the process when it cannot. So a run that finishes
under `limit_mib` with no OOM kill *proves* its memory stayed under the limit; the cgroup's own
peak (cgroup v1 `memory.max_usage_in_bytes`, v2 `memory.peak`) is the true maximum of what was
charged, page cache included, so it is an upper bound of the resident memory.
"""

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass
class MemoryCap:
    path: Path
    version: int  # 1 or 2

    def _read(self, name: str) -> str:
        return (self.path / name).read_text()

    def peak_mib(self) -> float:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        return int(self._read(name)) / 2**20

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in self._read(name).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def enter(self) -> None:
        """preexec_fn: moves the child (before it execs) into the cgroup."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        self.path.rmdir()


def _own_cgroup() -> tuple[Path, int] | None:
    """Where this process's memory controller lives: v1 `memory` or the v2 unified tree."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return CGROUP_ROOT / "memory" / path.lstrip("/"), 1
    for line in lines:
        if line.startswith("0::"):
            for base in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
                if "memory" in (base / "cgroup.controllers").read_text().split():
                    return base / line[3:].lstrip("/"), 2
    return None


def memory_cap(limit_mib: int) -> MemoryCap:
    """A new child cgroup of ours limited to `limit_mib`; raises with a clear message if the
    machine offers none (no memory controller, or no permission)."""
    found = _own_cgroup()
    if found is None:
        raise RuntimeError("no cgroup memory controller on this machine: --memory-cap needs one")
    parent, version = found
    path = parent / f"bench-{uuid.uuid4().hex[:8]}"
    try:
        path.mkdir()
        limit = str(limit_mib * 2**20)
        if version == 1:
            (path / "memory.limit_in_bytes").write_text(limit)
        else:
            (path / "memory.max").write_text(limit)
            (path / "memory.swap.max").write_text("0")
    except OSError as error:
        raise RuntimeError(f"cannot make a memory cgroup under {parent}: {error}") from error
    return MemoryCap(path=path, version=version)


def run_capped(command: list[str], limit_mib: int) -> tuple[str, dict]:
    """Runs `command` in a fresh cgroup capped at `limit_mib`; returns its stdout and the cap's
    figures. Fails loudly (CalledProcessError) if the command fails, e.g. killed at the cap."""
    cap = memory_cap(limit_mib)
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, preexec_fn=cap.enter, check=False
        )
        figures = {
            "limit_mib": limit_mib,
            "cgroup_peak_mib": round(cap.peak_mib(), 1),
            "oom_kills": cap.oom_kills(),
        }
    finally:
        cap.remove()
    if completed.returncode != 0:
        raise subprocess.CalledProcessError(
            completed.returncode,
            command,
            completed.stdout,
            f"{completed.stderr}\n(memory cap {figures}; a kill at the cap means the limit was"
            " exceeded)",
        )
    return completed.stdout, figures
