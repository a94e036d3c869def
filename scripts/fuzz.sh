#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30; FUZZ_SECONDS in the environment too)
# Seeds come from tests/data; each target keeps its growing corpus in build-fuzz/corpus/.
# A crash leaves its input as build-fuzz/crash-* and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-${FUZZ_SECONDS:-30}}"
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DAISLE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)"

seed_for() {  # target -> seed files from tests/data
  case "$1" in
    csv|esci_products) echo tests/data/esci_products_small.csv tests/data/homedepot_small.csv ;;
    catalog_csv) echo tests/data/esci_products_small.csv ;;
    esci_examples|judgments_csv) echo tests/data/homedepot_small.csv ;;
    homedepot) echo tests/data/homedepot_small.csv ;;
    crowdflower) echo tests/data/crowdflower_small.csv ;;
    catalog_jsonl) echo tests/data/catalog_small.jsonl ;;
    judgments_jsonl) echo tests/data/judgments_small.jsonl ;;
    events_jsonl) echo tests/data/events_small.jsonl ;;
    config) echo tests/data/settings_sample.toml ;;
  esac
}

failed=0
for binary in build-fuzz/fuzz/fuzz_*; do
  target=$(basename "$binary" | sed 's/^fuzz_//')
  corpus="build-fuzz/corpus/$target"
  mkdir -p "$corpus"
  if [ "$target" = index ] || [ "$target" = vectors ] || [ "$target" = memory ] || [ "$target" = policy ]; then
    # seeds: small valid files, written by the target itself
    AISLE_FUZZ_SEED_DIR="$corpus" "$binary" -runs=0 "$corpus" >/dev/null 2>&1 || true
  fi
  if [ "$target" = http ]; then  # seeds: a plain, a chunked and a pipelined request (first byte: default limits)
    printf '\0GET /search?query=red+shoes&filter=brand%%3DNike HTTP/1.1\r\nHost: a\r\n\r\n' > "$corpus/seed-get"
    printf '\0POST /events HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n' > "$corpus/seed-chunked"
    printf '\1GET /health HTTP/1.1\r\nHost: a\r\n\r\nPOST /search HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}' > "$corpus/seed-pipelined"
  fi
  if [ "$target" = model_header ]; then  # seed: a header length, a JSON header, weights (after the magic and version)
    printf '\x0f\0\0\0{"config":{"d":1}}weights' > "$corpus/seed-model"
  fi
  for seed in $(seed_for "$target"); do
    if [ "$target" = config ]; then cp "$seed" "$corpus/seed-$(basename "$seed")"; continue; fi
    # The first byte selects the reader options (see fuzz/reader_fuzz.cc); 0 = defaults.
    { printf '\0'; cat "$seed"; } > "$corpus/seed-$(basename "$seed")"
  done
  echo "== $target: ${seconds}s"
  if ! "$binary" "$corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix=build-fuzz/crash-"$target"- -print_final_stats=1 2>build-fuzz/"$target".log; then
    echo "!! $target failed: see build-fuzz/$target.log and build-fuzz/crash-$target-*"
    tail -30 build-fuzz/"$target".log
    failed=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" build-fuzz/"$target".log | tr '\n' ' '
    echo
  fi
done
exit $failed
