#!/usr/bin/env bash
# Builds and runs Troupe's libFuzzer targets.
#   fuzz/run.sh build DIR            configure fuzz/ with clang into DIR, build
#   fuzz/run.sh check DIR TARGET N   the corpus plus N generated inputs, seed 1
#                                    (deterministic; the ctest `fuzz` label)
#   fuzz/run.sh fuzz DIR TARGET SECS fuzz for SECS seconds (`make fuzz`)
# New inputs go to DIR/corpus/TARGET, never into the checked-in seeds;
# crashing inputs to DIR/artifacts/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd=$1 dir=$2
case "$cmd" in
  build)
    cmake -S "$here" -B "$dir" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    nice cmake --build "$dir" -j"${JOBS:-2}"
    ;;
  check|fuzz)
    target=$3 amount=$4
    work="$dir/corpus/$target"
    mkdir -p "$dir/artifacts"
    if [ "$cmd" = check ]; then
      rm -rf "$work"
      limit=(-runs="$amount" -seed=1)
    else
      limit=(-max_total_time="$amount")
    fi
    mkdir -p "$work"
    out="$dir/$target.log"
    status=0
    "$dir/${target}_fuzz" "${limit[@]}" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$dir/artifacts/$target-" -print_final_stats=1 \
      "$work" "$here/corpus/$target" >"$out" 2>&1 || status=$?
    grep -E "^(INFO: seed|#[0-9]+ *(INITED|DONE)|Done|stat::number_of_executed_units|invariant violated|==[0-9]+==ERROR|SUMMARY)" "$out" || true
    echo "$target: $(ls "$work" | wc -l) new corpus entries, seeds $(ls "$here/corpus/$target" | wc -l), log $out"
    if [ $status -ne 0 ]; then
      tail -40 "$out"
      echo "$target: FAILED (exit $status), crashing input in $dir/artifacts/"
      exit 1
    fi
    ;;
  *)
    echo "usage: $0 build|check|fuzz DIR [TARGET N|SECS]" >&2
    exit 2
    ;;
esac
