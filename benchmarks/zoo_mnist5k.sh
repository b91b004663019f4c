#!/usr/bin/env bash
# Train one model of each family briefly on mnist5k (statically binarized, the embedded data)
# and write one comparison table over all of them (benchmarks/compare_all.py).
#   bash benchmarks/zoo_mnist5k.sh [OUT_DIR] [EPOCHS]
# Everything runs offline on a CPU; raise EPOCHS (and add --device cuda) for real figures.
set -euo pipefail
out=${1:-runs/zoo}
epochs=${2:-10}
common=(--data mnist5k --binarize static --epochs "$epochs" --progress false)
mkdir -p "$out"
genzoo train independent "${common[@]}" --out "$out/independent"
genzoo train fvsbn "${common[@]}" --out "$out/fvsbn"
genzoo train nade "${common[@]}" --hidden 100 --out "$out/nade"
genzoo train vae "${common[@]}" --hidden 500 --latent-dim 50 --out "$out/vae"
genzoo train vae "${common[@]}" --objective iwae --samples 5 --hidden 500 --latent-dim 50 --out "$out/iwae"
genzoo train gan "${common[@]}" --out "$out/gan"
genzoo train aae "${common[@]}" --out "$out/aae"
python "$(dirname "$0")/compare_all.py" "$out"/* --samples 500 --k 100 --out "$out/compare.md"
