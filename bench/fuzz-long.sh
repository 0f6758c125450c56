#!/usr/bin/env bash
# The fuzz test at length: FRAMES frames (default 2,000,000) with SEED (default: a new one, printed).
# Bounded in time by tap's --timeout; in-memory only (no sockets).
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-2000000}
seed=${2:-$RANDOM}
echo "fuzz: $frames frames, seed $seed"
FUZZ_FRAMES=$frames FUZZ_SEED=$seed npx tap --timeout=3600 spec/fuzz.test.ts
