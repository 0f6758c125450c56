#!/usr/bin/env bash
# The fuzz run at scale, in SHARDS processes (default 3) with seeds SEED, SEED+1, … (nice 15), each
# trying TOTAL/SHARDS inputs; then one JSON line summing inputs, crashes and hangs and giving each
# shard's peak RSS. Build first (npm run build). Usage: bash bench/fuzz-shards.sh [TOTAL] [SHARDS] [SEED] [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-10000000}
shards=${2:-3}
seed=${3:-$RANDOM}
out=${4:-$(mktemp -d)}
mkdir -p "$out"
per=$(( (total + shards - 1) / shards ))
echo "fuzz: $total inputs in $shards shards of $per, seeds $seed.., results in $out" >&2
pids=()
for i in $(seq 0 $((shards - 1))); do
  nice -n 15 node --expose-gc bench/fuzz.mjs --inputs "$per" --seed $((seed + i * 1000003)) ${FUZZ_INFLATER:+--inflater $FUZZ_INFLATER} --quiet --json "$out/shard$i.json" > "$out/shard$i.out" 2> "$out/shard$i.err" &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
node -e '
const fs = require("fs");
const rs = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f)));
const sum = (k) => rs.reduce((a, r) => a + r[k], 0);
console.log(JSON.stringify({ shards: rs.length, inputs: sum("inputs"), replayInputs: sum("replayInputs"), mutated: sum("mutated"), cases: sum("cases"), crashes: sum("crashes"), hangs: sum("hangs"), starved: sum("starved"), sessionErrors: sum("sessionErrors"), rstSent: sum("rstSent"), goawaySent: sum("goawaySent"), streams: sum("streams"), forwards: sum("forwards"), seconds: Math.max(...rs.map((r) => r.seconds)), peakRssMiB: rs.map((r) => r.peakRssMiB), rssFirstTenthMeanMiB: rs.map((r) => r.rssFirstTenthMeanMiB), rssLastTenthMeanMiB: rs.map((r) => r.rssLastTenthMeanMiB), rssLastOverSecondMinute: rs.map((r) => r.rssLastOverSecondMinute), failures: rs.flatMap((r) => r.failures) }));
' "$out"/shard*.json
exit $status
