#!/usr/bin/env bash
# The GPU check, run on the CUDA machine in a checkout whose node and
# node_modules (with the CUDA EP) come from the bundle (tools/gpu-bundle.sh):
#
#   source .gpu/meta/setup.sh && bash tools/gpu-check.sh [MODEL.onnx]
#
#   (a) the device (nvidia-smi), the date, node and onnxruntime-node versions;
#   (b) twnn doctor;
#   (c) MODEL on CUDA vs the CPU EP: max abs/relative difference with TF32 on
#       (the default), with --no-tf32, and with NVIDIA_TF32_OVERRIDE=0 set
#       before node starts (the control for --no-tf32). MODEL defaults to
#       exported/mnist-resnet/model.onnx, else graphs/mnist-resnet.ts or
#       graphs/mnist-resnet-plain.ts built here;
#   (d) training speed on CUDA vs the CPU: `twnn train --limit-steps N` on
#       GPU_CHECK_GRAPH (300 steps on the GPU, 100 on the CPU), and one
#       epoch's time at the measured median step time;
#   (e) samples/s of train.onnx (K=1) vs train_steps.onnx (K=16), CUDA then CPU,
#       and whether K single steps and one K-step run agree.
#
# No network needed. Every step has a time limit and the whole check a budget
# (GPU_CHECK_BUDGET, 270 s), so it ends within 5 minutes; a failed step does
# not stop the others. Full logs go to $OUT/gpu-check (else /tmp/twnn-gpu-check);
# the summary table is printed last.
#
# Settings: GPU_CHECK_DEVICE (cuda, or cuda:N; cpu for a dry run on a machine
# without a GPU), GPU_CHECK_GRAPH (the graph trained in (d)), GPU_CHECK_STEPS
# (300), GPU_CHECK_CPU_STEPS (100), GPU_CHECK_BATCH (inference batch, 256),
# GPU_CHECK_BUDGET.
set -uo pipefail
cd "$(dirname "$0")/.."

START=$SECONDS
BUDGET=${GPU_CHECK_BUDGET:-270}
DEV=${GPU_CHECK_DEVICE:-cuda}
STEPS_N=${GPU_CHECK_STEPS:-300}
CPU_STEPS_N=${GPU_CHECK_CPU_STEPS:-100}
BATCH=${GPU_CHECK_BATCH:-256}
LOGS=${OUT:+$OUT/gpu-check}
LOGS=${LOGS:-/tmp/twnn-gpu-check}
RESULTS=$LOGS/results
rm -rf "$LOGS" && mkdir -p "$RESULTS"
WORK=$(mktemp -d /tmp/twnn-gpu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
TWNN=(node bin/twnn.js)
TS=(node --import tsx tools/gpu-check.ts)
STEP_LINES=()

# run_step NAME LIMIT CMD...: run CMD with a time limit (cut to what is left of
# the budget), its output in $LOGS/NAME.log, a short tail shown here.
run_step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - (SECONDS - START)))
  if ((left < 10)); then
    echo "--- $name: skipped, the ${BUDGET}s budget is spent"
    STEP_LINES+=("$name -1 0")
    return 1
  fi
  ((limit > left)) && limit=$left
  echo "--- $name (limit ${limit}s): $*"
  local t0=$SECONDS
  timeout --kill-after=5 "$limit" "$@" >"$LOGS/$name.log" 2>&1
  local status=$?
  tail -n "${TAIL_LINES:-6}" "$LOGS/$name.log" | cut -c1-400 | sed 's/^/    /'
  echo "    => status $status in $((SECONDS - t0))s"
  STEP_LINES+=("$name $status $((SECONDS - t0))")
  return $status
}

echo "=== (a) device and versions"
{
  date -u
  nvidia-smi || echo "nvidia-smi: not available"
  echo "node $(node --version)"
  echo "onnxruntime-node $(node -p "require('onnxruntime-node/package.json').version")"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
} >"$LOGS/info.log" 2>&1
grep -E "NVIDIA-SMI|CUDA Version|^node|^onnxruntime|MiB" "$LOGS/info.log" | head -8
GPU=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
CUDA_VERSION=$(grep -o 'CUDA Version: [0-9.]*' "$LOGS/info.log" | head -1)
node -e '
  const [file, gpu, cuda, date] = process.argv.slice(1);
  const ort = require("onnxruntime-node/package.json").version;
  require("fs").writeFileSync(file, JSON.stringify({ gpu: [gpu || "no GPU (nvidia-smi)", cuda].filter(Boolean).join(", "), node: process.version, ort, date }));
' "$RESULTS/info.json" "$GPU" "$CUDA_VERSION" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"

echo "=== (b) twnn doctor"
DOCTOR_DEV=$DEV
[ "$DEV" = cpu ] && DOCTOR_DEV=cuda
TAIL_LINES=12 run_step doctor 60 "${TWNN[@]}" doctor --device "$DOCTOR_DEV"
node -e 'const fs = require("fs"); const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n"); fs.writeFileSync(process.argv[2], JSON.stringify(lines.at(-1)))' \
  "$LOGS/doctor.log" "$RESULTS/doctor.json"

echo "=== (c) inference on $DEV vs the CPU"
# compare MODEL: MODEL on $DEV vs the CPU EP, with TF32 on, --no-tf32, and NVIDIA_TF32_OVERRIDE=0 from the start.
compare() {
  local model=$1 tag
  tag=$(basename "$(dirname "$model")")
  local x=$WORK/x-$tag.npy failed=0 name label flag
  run_step "input-$tag" 60 "${TS[@]}" input "$model" "$x" --batch "$BATCH" --results "$RESULTS" || return 1
  TAIL_LINES=1 run_step "run-$tag-cpu" 60 "${TWNN[@]}" run "$model" --input "$x" --output "$WORK/y-$tag-cpu.npy" --device cpu || return 1
  for v in "tf32|(TF32 default)|" "no-tf32|--no-tf32|--no-tf32" "env|NVIDIA_TF32_OVERRIDE=0|"; do
    IFS='|' read -r name label flag <<<"$v"
    local prefix=()
    [ "$name" = env ] && prefix=(env NVIDIA_TF32_OVERRIDE=0)
    if TAIL_LINES=1 run_step "run-$tag-$name" 60 ${prefix[@]+"${prefix[@]}"} "${TWNN[@]}" run "$model" --input "$x" --output "$WORK/y-$tag-$name.npy" --device "$DEV" $flag; then
      run_step "diff-$tag-$name" 30 "${TS[@]}" diff "$WORK/y-$tag-cpu.npy" "$WORK/y-$tag-$name.npy" --label "$tag on $DEV $label" --results "$RESULTS"
    else
      failed=1
    fi
  done
  return $failed
}
MODEL=${1:-}
if [ -z "$MODEL" ] && [ -f exported/mnist-resnet/model.onnx ]; then MODEL=exported/mnist-resnet/model.onnx; fi
if [ -z "$MODEL" ]; then
  SOURCE=graphs/mnist-resnet.ts
  [ -f "$SOURCE" ] || SOURCE=graphs/mnist-resnet-plain.ts
  run_step build 90 "${TWNN[@]}" build "$SOURCE" -o "$WORK/$(basename "$SOURCE" .ts)" && MODEL=$WORK/$(basename "$SOURCE" .ts)/model.onnx
fi
if [ -n "$MODEL" ] && ! compare "$MODEL"; then
  # A conv network needs cuDNN; the MLP needs only cuBLAS, so there is still a CUDA-vs-CPU comparison.
  echo "    $MODEL did not run everywhere on $DEV; comparing graphs/mnist-mlp-plain.ts too"
  run_step build-mlp 60 "${TWNN[@]}" build graphs/mnist-mlp-plain.ts -o "$WORK/mnist-mlp-plain" && compare "$WORK/mnist-mlp-plain/model.onnx"
fi

echo "=== (d) training on $DEV vs the CPU"
GRAPH=${GPU_CHECK_GRAPH:-}
if [ -z "$GRAPH" ]; then
  GRAPH=graphs/mnist-resnet.ts
  [ -f "$GRAPH" ] || GRAPH=graphs/mnist-resnet-plain.ts
fi
train() { # train LABEL DEVICE STEPS: twnn train on DEVICE into $WORK/train-LABEL, then its speed
  local step=train-$1-$(basename "$GRAPH" .ts) status
  rm -rf "$WORK/train-$1"
  run_step "$step" 120 "${TWNN[@]}" train "$GRAPH" --device "$2" --epochs 1 --limit-steps "$3" --out "$WORK/train-$1"
  status=$?
  # metrics.jsonl gets a line per step, so a run stopped by its time limit still has a speed to report.
  if [ -s "$WORK/train-$1/metrics.jsonl" ]; then
    run_step "train-stats-$1" 30 "${TS[@]}" train-stats --label "$1" --out "$WORK/train-$1" --log "$LOGS/$step.log" --results "$RESULTS"
  fi
  return $status
}
if ! train cuda "$DEV" "$STEPS_N" && [ ! -s "$WORK/train-cuda/metrics.jsonl" ] && [ "$GRAPH" != graphs/mnist-mlp-plain.ts ]; then
  # A conv network needs cuDNN; the MLP needs only cuBLAS, so the speed comparison still has a subject.
  echo "    training $GRAPH on $DEV failed; trying graphs/mnist-mlp-plain.ts instead"
  GRAPH=graphs/mnist-mlp-plain.ts
  train cuda "$DEV" "$STEPS_N"
fi
train cpu cpu "$CPU_STEPS_N"
node -e 'require("fs").writeFileSync(process.argv[1], JSON.stringify(process.argv[2] + ", --limit-steps " + process.argv[3] + " on the GPU, " + process.argv[4] + " on the CPU"))' \
  "$RESULTS/graph.json" "$GRAPH" "$STEPS_N" "$CPU_STEPS_N"

echo "=== (e) K-step training: train.onnx (K=1) vs train_steps.onnx (K=16)"
EXPORT=$WORK/train-cuda
if [ ! -f "$EXPORT/train_steps.onnx" ]; then
  run_step export 90 "${TWNN[@]}" build "$GRAPH" -o "$WORK/export"
  EXPORT=$WORK/export
fi
run_step "ksteps-$DEV" 90 "${TS[@]}" ksteps "$EXPORT" --device "$DEV" --k 16 --repeats 8 --batch 64 --results "$RESULTS"
[ "$DEV" != cpu ] && run_step ksteps-cpu 60 "${TS[@]}" ksteps "$EXPORT" --device cpu --k 16 --repeats 1 --batch 64 --results "$RESULTS"

node -e '
  const [file, ...lines] = process.argv.slice(1);
  const steps = lines.map((l) => { const [name, status, seconds] = l.split(" "); return { name, status: Number(status), seconds: Number(seconds) }; });
  require("fs").writeFileSync(file, JSON.stringify(steps));
' "$RESULTS/steps.json" "${STEP_LINES[@]}"
echo "total $((SECONDS - START))s; logs in $LOGS"
"${TS[@]}" summary "$RESULTS"
