#!/usr/bin/env bash
# Sample grids for the README's model table, from the binarized-MNIST benchmark runs
# (benchmarks/autoregressive.py, benchmarks/vae_binarized_mnist.py, benchmarks/adversarial.py).
# Usage: bash benchmarks/readme_samples.sh [RUNS_DIR=runs] [OUT_DIR=docs/img]
set -euo pipefail
runs=${1:-runs}
out=${2:-docs/img}
mkdir -p "$out"
for pair in independent:ar-independent fvsbn:ar-fvsbn nade:ar-nade pixelcnn:ar-pixelcnn-ft \
            pixelrnn-diag:ar-diag pixelrnn-row:ar-row vae:vae300-e250 vae-vamp:vamp300-e250 gan:bench-gan aae:bench-aae \
            infogan:bench-infogan nade-oa:ar-nade-oa; do
    name=${pair%%:*}
    run=$runs/${pair#*:}
    if [ -f "$run/model.safetensors" ]; then
        genzoo sample "$run" -n 36 --seed 0 --out "$out/samples-$name.png"
    else
        echo "skipped $name: no run at $run" >&2
    fi
done
