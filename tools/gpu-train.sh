#!/usr/bin/env bash
# Trains a paper model on the CUDA machine within a time budget, after the
# bundle is in place (tools/gpu-bundle.sh, then `source .gpu/meta/setup.sh`):
#
#   bash tools/gpu-train.sh GRAPH SECONDS [DEST]
#
# A short probe run (`--limit-steps 60`) measures the step time; the real run
# then takes as many whole epochs (at most 8) as fit in SECONDS, on `--device
# cuda`. The trained model.onnx, manifest.json and metrics.jsonl are copied to
# DEST (default $OUT/<graph name>) so they can come back from the device.
set -uo pipefail
cd "$(dirname "$0")/.."
GRAPH=$1
BUDGET=$2
NAME=$(basename "$GRAPH" .ts)
DEST=${3:-${OUT:-/tmp}/$NAME}
WORK=$(mktemp -d /tmp/twnn-gpu-train.XXXXXX)
START=$SECONDS

probe_steps=60
t0=$SECONDS
node bin/twnn.js train "$GRAPH" --device cuda --epochs 1 --limit-steps $probe_steps --out "$WORK/probe" >"$WORK/probe.log" 2>&1 || {
  echo "gpu-train: the probe run failed:"; tail -5 "$WORK/probe.log"; exit 1; }
probe=$((SECONDS - t0))
steps_per_epoch=$(node -e 'const m = require(process.argv[1]); process.stdout.write(String(Math.ceil(60000 / (m.task?.data?.kind === "mnist" ? 64 : 64))))' "$WORK/probe/manifest.json")
# The probe includes export and session start; charge them once, then the per-step time.
per_step=$(node -e 'const fs = require("fs"); const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse).filter((l) => l.kind === "step"); const t = lines.slice(5).map((l) => 64 / l.samples_per_s); t.sort((a, b) => a - b); process.stdout.write(String(t[Math.floor(t.length / 2)]))' "$WORK/probe/metrics.jsonl")
left=$((BUDGET - (SECONDS - START) - probe - 30))
epochs=$(node -e 'const [left, per, n] = process.argv.slice(1).map(Number); process.stdout.write(String(Math.max(1, Math.min(8, Math.floor(left / (per * n * 1.1))))))' "$left" "$per_step" "$steps_per_epoch")
echo "gpu-train: $GRAPH: probe ${probe}s, median step ${per_step}s, ${steps_per_epoch} steps/epoch -> $epochs epoch(s) in the ${left}s left"
node bin/twnn.js train "$GRAPH" --device cuda --epochs "$epochs" --out "$WORK/run" >"$WORK/run.log" 2>&1
status=$?
tail -8 "$WORK/run.log"
mkdir -p "$DEST"
cp "$WORK/run/model.onnx" "$WORK/run/manifest.json" "$WORK/run/metrics.jsonl" "$DEST/" 2>/dev/null
echo "gpu-train: status $status, $((SECONDS - START))s in all; results in $DEST"
exit $status
