"""The load's Python CPU per line, interpreted against compiled builds of the same source.

    # once: three copies of this checkout's files, two of them compiled (mypyc, Cython 3
    # pure-Python mode) by a Python that has the compilers, e.g. a scratch venv:
    .tools/bin/uv venv -p python3.11 /tmp/cc && .tools/bin/uv pip install -p /tmp/cc \\
        mypy==2.4.1 cython==3.3.2 setuptools==84.2.1
    .venv/bin/python -m bench.load_compiled --make-trees /tmp/cc-trees --build-python /tmp/cc/bin/python
    # the measurement (the export as bench/ingest.py writes it)
    .venv/bin/python -m bench.load_compiled --workdir /tmp/ingest-wd --customers 100000 \\
        --tree interpreted=/tmp/cc-trees/interpreted --tree mypyc=/tmp/cc-trees/mypyc \\
        --tree cython=/tmp/cc-trees/cython [--rounds 3] [--lines N --instructions]

The compiled modules are the load's: customers/bulkrows.py, normalize.py, staging.py, built
in place from the unchanged source (a .so beside a .py wins the import). For every round, tree
and export file, a fresh process (cold memo caches, as a first sync) reads the export into
memory, then times `StagedLoad.consume` over it with the database replaced by a sink that takes
the COPY data (so the join and encode of the send are counted, PostgreSQL is not), then
`orjson.loads` of every line alone. It prints CPU µs per line (process time, best of the
rounds: the machine is shared) and each tree's ratio to the first, rounds interleaved so that
every tree sees the same load. --instructions counts instructions under valgrind instead
(load-independent, ~50x slower: use --lines).
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson

MODULES = ("customers/bulkrows.py", "customers/normalize.py", "customers/staging.py")
BUILD = {  # setup.py bodies: extension modules of MODULES, built in place
    "mypyc": "from mypyc.build import mypycify\n"
    "modules = mypycify(['--ignore-missing-imports', '--follow-imports=silent', *MODULES],"
    " opt_level='3')\n",
    "cython": "from Cython.Build import cythonize\n"
    "modules = cythonize(list(MODULES), compiler_directives={'language_level': 3})\n",
}


def make_trees(target: Path, python: str) -> None:
    """target/interpreted, target/mypyc, target/cython: this checkout's files, two compiled."""
    files = subprocess.run(["git", "ls-files", "-z"], capture_output=True, check=True).stdout.split(
        b"\0"
    )
    for name in ("interpreted", *BUILD):
        tree = target / name
        shutil.rmtree(tree, ignore_errors=True)
        for file in filter(None, files):
            (tree / file.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file.decode(), tree / file.decode())
        for link in (".dev-secret",):
            if Path(link).exists():
                (tree / link).symlink_to(Path(link).resolve())
        if name in BUILD:
            setup = (
                f"MODULES = {MODULES!r}\n{BUILD[name]}from setuptools import setup\n"
                "setup(name='compiled', packages=[], py_modules=[], ext_modules=modules,"
                " script_args=['build_ext', '--inplace'])\n"
            )
            subprocess.run([python, "-c", setup], cwd=tree, check=True, capture_output=True)
        built = sorted(
            str(p.relative_to(tree)) for p in tree.glob("**/*.so") if "build" not in p.parts
        )
        print(f"{tree}: {built}")


class _Sink:
    """What StagedLoad._flush uses of Django's connection and psycopg's cursor, keeping only
    the count of COPY lines sent."""

    def __init__(self) -> None:
        self.cursor, self.rows = self, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def execute(self, sql: str, params=None) -> None:
        return None

    def copy(self, sql: str):
        return self

    def write(self, data: bytes) -> None:
        self.rows += data.count(b"\n")


def child(path: str, phase: str, limit: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from customers import bulkrows, normalize, staging

    with open(path, "rb") as handle:
        lines = handle.readlines()[:limit]
    sink = _Sink()
    staging.connection = type("Connection", (), {"cursor": lambda self: sink})()
    staging.transaction = type("Transaction", (), {"atomic": staticmethod(contextlib.nullcontext)})
    load = staging.StagedLoad(run_id=0, phase=phase, shop_country="DE", batch_size=5000)
    started = time.process_time()
    load.consume(lines)
    seconds = time.process_time() - started
    loads = orjson.loads
    started = time.process_time()
    for raw in lines:  # the parse alone: every dict built and dropped, as consume does
        loads(raw)
    parse = time.process_time() - started
    compiled = [m.__name__ for m in (bulkrows, normalize, staging) if m.__file__.endswith(".so")]
    print(json.dumps({"seconds": seconds, "parse": parse, "lines": len(lines), "rows": sink.rows,
                      "compiled": compiled}))  # fmt: skip


def run_child(tree: str, path: str, phase: str, limit: int, perf: bool) -> dict:
    """One fresh process; with `perf`, under valgrind's callgrind for its instruction count
    (load-independent; ~50x slower, so use a few thousand --lines)."""
    command = [sys.executable, "-m", "bench.load_compiled", "--tree", "x=.", "--child", path,
               phase, str(limit)]  # fmt: skip
    if perf:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    out = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if perf:
        collected = re.search(r"Collected : (\d+)", out.stderr)
        result["instructions"] = int(collected[1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/clientele-bench")
    parser.add_argument("--tree", action="append", default=[], help="NAME=DIR")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lines", type=int, default=10**9, help="first N lines of each file")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions (valgrind) instead"
    )
    parser.add_argument("--child", nargs=3, metavar=("PATH", "PHASE", "LIMIT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--make-trees", metavar="DIR", help="build the three trees and stop")
    parser.add_argument(
        "--build-python", default=sys.executable, help="a Python with the compilers"
    )
    args = parser.parse_args()
    if args.make_trees:
        make_trees(Path(args.make_trees).resolve(), args.build_python)
        return
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    if not args.tree:
        parser.error("give --make-trees DIR, or one --tree NAME=DIR per tree to measure")
    trees = dict(t.split("=", 1) for t in args.tree)
    workdir = Path(args.workdir).resolve()
    files = {
        phase: str(workdir / f"{phase}-{args.customers}-{args.seed}-utf8.jsonl")
        for phase in ("customers", "orders")
    }
    perf = args.instructions
    best: dict[tuple[str, str], float] = {}
    instructions: dict[tuple[str, str], int] = {}
    if perf:  # start-up (Django, imports, reading the file) to subtract from the counts
        startup = {
            (name, phase): run_child(tree, path, phase, 0, perf)["instructions"]
            for name, tree in trees.items()
            for phase, path in files.items()
        }
    print(f"load average at start {os.getloadavg()}")
    for round_no in range(1, args.rounds + 1):
        for name, tree in trees.items():
            for phase, path in files.items():
                result = run_child(tree, path, phase, args.lines, perf)
                key = (name, phase)
                best[key] = min(best.get(key, float("inf")), result["seconds"])
                counted = ""
                if perf:
                    instructions[key] = result["instructions"] - startup[key]
                    counted = f", {instructions[key] / result['lines']:,.0f} instructions/line"
                print(
                    f"round {round_no} {name:12s} {phase:9s} {result['seconds']:6.2f} CPU-s "
                    f"{result['seconds'] / result['lines'] * 1e6:5.2f} µs/line{counted} "
                    f"(parse alone {result['parse'] / result['lines'] * 1e6:4.2f} µs/line; "
                    f"{result['lines']:,} lines, {result['rows']:,} rows; compiled: "
                    f"{', '.join(result['compiled']) or 'none'}; load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    first = next(iter(trees))
    print(f"\nbest of {args.rounds}, CPU-s (ratio to {first}, same run):")
    for name in trees:
        both = sum(best[(name, p)] for p in files)
        base = sum(best[(first, p)] for p in files)
        cells = "  ".join(
            f"{p} {best[(name, p)]:6.2f} ({best[(first, p)] / best[(name, p)]:.2f}x)" for p in files
        )
        print(f"  {name:12s} {cells}  both {both:6.2f} ({base / both:.2f}x)")
    if perf:
        print(f"instructions (user space, consume only; ratio to {first}):")
        for name in trees:
            cells = "  ".join(
                f"{p} {instructions[(name, p)] / 1e9:6.2f} G "
                f"({instructions[(first, p)] / instructions[(name, p)]:.2f}x)"
                for p in files
            )
            print(f"  {name:12s} {cells}")
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
