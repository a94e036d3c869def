#!/usr/bin/env bash
# The demo's training sequence on a sample: ingest, index, encoder, vectors, ESCI classifier,
# related products, ranker. Each trainer holds out the same query-disjoint slice and says
# whether its layer beat the plain baseline there (only winners change what searches show).
# `make demo` and the shopper test (tests/e2e/shopper_test.cc) both run it.
#
#   scripts/train_sample.sh AISLE_BINARY DATA_DIR SAMPLE_DIR
set -euo pipefail
aisle="$1"
data="$2"
sample="$3"
"$aisle" ingest --data-dir "$data" --catalog "$sample/catalog.jsonl" --judgments "$sample/judgments.csv" \
    --events "$sample/events.jsonl"
"$aisle" index --data-dir "$data"
"$aisle" train encoder --data-dir "$data" --epochs 6
"$aisle" index --data-dir "$data"
"$aisle" train classifier --data-dir "$data" --epochs 4 --buckets 32768
"$aisle" train related --data-dir "$data" --edges "$sample/related.csv" --epochs 10 --batch-size 512
"$aisle" train ranker --data-dir "$data" --rounds 100
"$aisle" stats --data-dir "$data"
