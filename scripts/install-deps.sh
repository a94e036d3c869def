#!/usr/bin/env bash
# Installs every Debian package Aisle needs to build, test, fuzz and benchmark.
# Idempotent: packages already present are skipped, so a second run is quick and offline.
# Works as root on a fresh Debian 12 machine; as another user it uses sudo when available.
set -euo pipefail

packages=(
  # toolchain
  cmake make g++ ccache pkg-config
  # the teaching sample's generator (scripts/make_sample.py)
  python3
  # clang + its runtime: libFuzzer targets (make fuzz)
  clang libclang-rt-14-dev
  # core, io, store, CLI
  libsqlite3-dev sqlite3 nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  # the data directory's settings file (aisle.toml): toml++ (header-only)
  libtomlplusplus-dev
  # text: Unicode (ICU), Snowball stemmers, MeCab + IPA dictionary (Japanese), postings compression
  libicu-dev libstemmer-dev libmecab-dev mecab-ipadic-utf8 libstreamvbyte-dev
  # models and vectors: libtorch (+ gloo, which its CMake config needs), OpenMP OpenBLAS (the
  # default reference BLAS is 15-20x slower), hnswlib (approximate k-NN), faiss
  libtorch-dev libgloo-dev libopenblas0-openmp libhnswlib-dev libfaiss-dev
  # rank: LambdaMART through the XGBoost C API (the xgboost package carries the CMake config)
  libxgboost-dev xgboost
  # server: HTTP on Boost.Beast/Asio (header-only); cpp-httplib as the independent client of
  # the tests and `aisle bench serve`; the page's end-to-end test drives Debian's Chromium
  libboost1.81-dev libcpp-httplib-dev chromium
  # a CJK font, so that the browser test sees Japanese rendered (not as empty boxes)
  fonts-noto-cjk
  # peers measured side by side in evaluations and benchmarks
  libxapian-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
)

# Node.js runs the page's browser test (Debian's nodejs + npm, unless a node is already there).
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

# playwright-core (the browser test's driver, pinned in tests/browser/package-lock.json) from
# the npm registry; it drives Debian's chromium and downloads no browser of its own.
root="$(cd "$(dirname "$0")/.." && pwd)"
install_node_modules() {
  if [ ! -f "$root/tests/browser/node_modules/playwright-core/package.json" ]; then
    echo "install-deps: npm ci in tests/browser"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$root/tests/browser" --no-audit --no-fund --loglevel=error
  fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_node_modules
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
install_node_modules
