#!/bin/bash
# `make demo` from a fresh clone, timed, on the slower instruction set: the figure README.md quotes.
#   benchmarks/fresh_demo.sh [FOLDER] [REPO]     (default: /tmp/fresh-demo, this checkout)
# The clone gets an empty download cache (the Debian packages are fetched again) and torch, oneDNN and MKL are
# limited to AVX2, as on the slower machines of this kind. Record `lscpu`'s model name and flags with the time.
set -euo pipefail
folder=${1:-/tmp/fresh-demo}
repo=${2:-$(cd "$(dirname "$0")/.." && pwd)}
rm -rf "$folder" "$folder-cache"
mkdir -p "$folder-cache"
git clone -q "$repo" "$folder"
cd "$folder"
git log --oneline -1
lscpu | grep -E "Model name|Flags"
uptime
export CODECSTUDY_CACHE="$folder-cache" ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2
/usr/bin/time -v make demo
uptime
