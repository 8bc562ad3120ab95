#!/usr/bin/env bash
# Before/after on one machine: the library, read-out and reporting benchmarks of two checkouts, each
# with its own venv (`make venv` in it), alternated round by round (before first, then after first)
# so the drift of a shared machine falls on both alike. Prints nothing itself: each run's output goes
# to OUT_DIR, named <benchmark>-<before|after>-<round>.md, and no docs are rewritten.
#
#   benchmarks/before_after.sh BEFORE_DIR AFTER_DIR [ROUNDS=2] [OUT_DIR=.run/before-after]
#
# e.g. git worktree add --detach /tmp/base main && make -C /tmp/base venv
#      benchmarks/before_after.sh /tmp/base "$PWD"
# The read-out benchmark is this checkout's bench_readout.py for both sides (it reads either layout).
set -euo pipefail
before=$(cd "$1" && pwd) after=$(cd "$2" && pwd) rounds=${3:-2} out=${4:-.run/before-after}
readout=$(cd "$(dirname "$0")" && pwd)/bench_readout.py
mkdir -p "$out"
out=$(cd "$out" && pwd)
for round in $(seq "$rounds"); do
    order="before after"
    if (( round % 2 == 0 )); then order="after before"; fi
    for side in $order; do
        dir=$before
        if [[ $side == after ]]; then dir=$after; fi
        echo "round $round: $side ($dir)" >&2
        (cd "$dir" && .venv/bin/python benchmarks/bench_lib.py --no-write) >"$out/lib-$side-$round.md"
        (cd "$dir" && .venv/bin/python "$readout") >"$out/readout-$side-$round.md"
        (cd "$dir" && .venv/bin/python benchmarks/bench_report.py --no-write --rounds 1) >"$out/report-$side-$round.md"
    done
done
