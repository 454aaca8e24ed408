#!/usr/bin/env bash
# Packs what the offline CUDA machine lacks -- this machine's node, the
# project's node_modules and ONNX Runtime 1.29.0's CUDA 13 provider libraries --
# into .gpu/part-* (at most 48 MiB each) plus .gpu/meta, with the workplace's
# shared script (../shared/gpu/make-bundle.sh, beside this checkout).
#
#   bash tools/gpu-bundle.sh
#
# Then send each part with .gpu/meta to the GPU machine's checkout, run
# `bash .gpu/meta/setup.sh` after each, and finally:
#
#   source .gpu/meta/setup.sh && bash tools/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLER=../shared/gpu/make-bundle.sh
[ -f "$BUNDLER" ] || { echo "gpu-bundle: $BUNDLER not found (it lives in the workplace's shared folder beside this checkout)" >&2; exit 1; }
[ -d node_modules/onnxruntime-node ] || { echo "gpu-bundle: no node_modules/onnxruntime-node: run 'npm ci' first" >&2; exit 1; }
# The bundle carries node_modules as it is here: the CUDA EP is added by the bundler
# (pruned to Hopper kernels), so libraries a local 'npm run cuda:install' put there are not needed.
bash "$BUNDLER"
echo
echo "on the GPU machine, once every part has arrived:  source .gpu/meta/setup.sh && bash tools/gpu-check.sh"
