"""Peak memory of a headless fit of a big file, with and without a report.

Makes a CSV of 1,000,000 rows (columns x, y, s; seeded) in a temporary folder
and runs, each in its own process,

    lsqfit-app fit data.csv -x x -y y --sigma s --model a*exp(-x/tau)+c
    ... --report out.html | out.pdf | out.md

measuring the peak resident memory of the process with ``/usr/bin/time -v``
(``apt-get install -y time`` if it is missing; without it the peak comes from
``resource.getrusage(RUSAGE_CHILDREN)``, which needs one fresh Python per
run).  Prints the peak, the file size and their ratio against the target of
10x the file size.

Run: ``python tests/benchmarks/bench_memory.py [--rows N] [--keep DIR]``.
Not collected by pytest (memory is measured, never asserted).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

TARGET = 10.0
MODEL = "a*exp(-x/tau)+c"


def make_data(path: str, rows: int, seed: int = 20240611) -> None:
    """x, y, s columns: an exponential decay with per-row sigma and a few outliers."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 10.0, rows))
    s = rng.uniform(0.02, 0.08, rows)
    y = 3.0 * np.exp(-x / 2.5) + 0.4 + rng.normal(0.0, 1.0, rows) * s
    out = rng.choice(rows, size=max(1, rows // 100_000), replace=False)
    y[out] += 1.5  # outliers a faithful figure must still show
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("x,y,s\n")
        block = 100_000
        for i in range(0, rows, block):
            sl = slice(i, i + block)
            # 7 significant digits, as instruments write them (~27 bytes a row)
            lines = [f"{a:.7g},{b:.7g},{c:.4g}\n"
                     for a, b, c in zip(x[sl].tolist(), y[sl].tolist(), s[sl].tolist())]
            fh.write("".join(lines))


def _app() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "lsqfit-app")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "lsqfit_app"]


def peak_rss(cmd: list[str], cwd: str) -> tuple[int, int, str]:
    """(peak RSS in bytes, exit code, stderr tail) of one command."""
    time_bin = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time")
                                        else None)
    if time_bin:
        proc = subprocess.run([time_bin, "-v", *cmd], cwd=cwd, capture_output=True, text=True)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        if m:
            return int(m.group(1)) * 1024, proc.returncode, proc.stderr[-400:]
    # fallback: a fresh interpreter whose only child is the command
    probe = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], "
             "capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)")
    proc = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=cwd, capture_output=True,
                          text=True)
    kb, rc = proc.stdout.split()
    return int(kb) * 1024, int(rc), proc.stderr[-400:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep the files")
    parser.add_argument("--only", nargs="*", default=None,
                        help="runs to do: fit html pdf md (default: all)")
    args = parser.parse_args()

    folder = args.keep or tempfile.mkdtemp(prefix="lsqfit-mem-")
    os.makedirs(folder, exist_ok=True)
    data = os.path.join(folder, "data.csv")
    try:
        if not os.path.exists(data):
            make_data(data, args.rows)
        size = os.path.getsize(data)
        base = [*_app(), "fit", data, "-x", "x", "-y", "y", "--sigma", "s", "--model", MODEL]
        runs = {"fit": [], "html": ["--report", "out.html"], "pdf": ["--report", "out.pdf"],
                "md": ["--report", "out.md"]}
        print(f"data: {args.rows} rows, {size / 1e6:.1f} MB; target peak <= {TARGET:g}x "
              f"= {TARGET * size / 1e6:.0f} MB")
        print(f"{'run':<8}{'peak RSS (MB)':>15}{'x file':>9}  verdict")
        for name, extra in runs.items():
            if args.only and name not in args.only:
                continue
            peak, rc, err = peak_rss(base + extra, folder)
            ratio = peak / size
            verdict = "ok" if ratio <= TARGET else "over target"
            if rc not in (0, 1):
                verdict = f"exit {rc}: {err.strip().splitlines()[-1] if err.strip() else ''}"
            print(f"{name:<8}{peak / 1e6:>15.0f}{ratio:>9.1f}  {verdict}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
