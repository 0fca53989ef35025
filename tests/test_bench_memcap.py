"""bench/memcap.py: the hard memory limit the scan and sync benchmarks' memory figures rest on."""

import subprocess
import sys

import pytest

from bench.memcap import run_capped

# Touches every page of `mib` MiB, so the pages are really charged, then says so.
ALLOCATE = (
    "import sys; x = bytearray({mib} * 2**20); x[::4096] = b'a' * len(x[::4096]); print('ok')"
)


def test_a_process_under_the_cap_finishes_and_its_peak_is_counted():
    output, cap = run_capped([sys.executable, "-c", ALLOCATE.format(mib=120)], 400)
    assert output.strip() == "ok"
    assert cap["oom_kills"] == 0
    assert 120 <= cap["cgroup_peak_mib"] <= 400


def test_a_process_over_the_cap_is_killed_and_the_run_fails():
    with pytest.raises(subprocess.CalledProcessError) as failure:
        run_capped([sys.executable, "-c", ALLOCATE.format(mib=300)], 150)
    assert failure.value.returncode == -9
    assert "'oom_kills': 1" in failure.value.stderr


def test_a_forked_child_is_charged_to_the_same_cap():
    forks = (
        "import os, sys\n"
        "if os.fork() == 0:\n"
        f"    {ALLOCATE.format(mib=200)}\n"
        "    os._exit(0)\n"
        "_, status = os.wait(); sys.exit(1 if status else 0)\n"
    )
    with pytest.raises(subprocess.CalledProcessError):
        run_capped([sys.executable, "-c", forks], 150)
