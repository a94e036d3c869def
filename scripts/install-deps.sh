#!/usr/bin/env bash
# Installs every Debian package Aisle needs to build, test, fuzz and benchmark.
# Idempotent: packages already present are skipped, so a second run is quick and offline.
# Works as root on a fresh Debian 12 machine; as another user it uses sudo when available.
set -euo pipefail

packages=(
  # toolchain
  cmake make g++ ccache pkg-config
  # clang + its runtime: libFuzzer targets (make fuzz)
  clang libclang-rt-14-dev
  # core, io, store, CLI
  libsqlite3-dev sqlite3 nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  # text: Unicode (ICU), Snowball stemmers, MeCab + IPA dictionary (Japanese), postings compression
  libicu-dev libstemmer-dev libmecab-dev mecab-ipadic-utf8 libstreamvbyte-dev
  # models and vectors: libtorch (+ gloo, which its CMake config needs), OpenMP OpenBLAS (the
  # default reference BLAS is 15-20x slower), hnswlib (approximate k-NN), faiss
  libtorch-dev libgloo-dev libopenblas0-openmp libhnswlib-dev libfaiss-dev
  # rank: LambdaMART through the XGBoost C API (the xgboost package carries the CMake config)
  libxgboost-dev xgboost
  # server: HTTP; the page's end-to-end test drives Debian's Chromium
  libcpp-httplib-dev chromium
  # peers measured side by side in evaluations and benchmarks
  libxapian-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=600 update -q
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
