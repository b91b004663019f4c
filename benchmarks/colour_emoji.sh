#!/usr/bin/env bash
# Colour benchmarks on emoji 32x32 (google): the exact commands behind BENCHMARKS.md "Colour".
# Usage: bash benchmarks/colour_emoji.sh NAME
#   NAME: independent independent-mix pixelcnn pixelcnn-mix gated gated-mix gated-cond gated-cond-mix row row-mix diag diag-mix vae-mix
# Needs the emoji-datasource layout under $DATA (default /work/shared/data: $DATA/emoji/emoji.json).
set -euo pipefail
DATA=${DATA:-/work/shared/data}
COMMON="--data emoji --data-dir $DATA --size 32 --vendor google --batch-size 16 --sample-every 0 --progress false"
STEPS=${STEPS:-60}  # CPU budget: the shared 2-core machine gave each run a few % of a core
case "$1" in
  independent) genzoo_args="independent --likelihood categorical --epochs 1 --max-steps 1 --validate false" ;;  # init_from_data is the ML fit
  pixelcnn)    genzoo_args="pixelcnn --likelihood categorical --features 16 --residual-blocks 3 --output-features 32 --max-steps $STEPS --epochs 100" ;;
  gated)       genzoo_args="pixelcnn-gated --likelihood categorical --features 16 --layers 3 --output-features 32 --max-steps $STEPS --epochs 100" ;;
  gated-mix)   genzoo_args="pixelcnn-gated --likelihood logistic-mixture --mixtures 5 --features 16 --layers 3 --output-features 32 --max-steps $STEPS --epochs 100" ;;
  pixelcnn-mix) genzoo_args="pixelcnn --likelihood logistic-mixture --mixtures 5 --features 16 --residual-blocks 3 --output-features 32 --max-steps $STEPS --epochs 100" ;;
  row)         genzoo_args="pixelrnn-row --likelihood categorical --features 16 --layers 3 --output-features 32 --max-steps $STEPS --epochs 100" ;;
  diag)        genzoo_args="pixelrnn-diag --likelihood categorical --features 16 --layers 3 --output-features 32 --max-steps $STEPS --epochs 100" ;;
  row-mix)     genzoo_args="pixelrnn-row --likelihood logistic-mixture --mixtures 5 --features 16 --layers 3 --output-features 32 --max-steps $STEPS --epochs 100" ;;
  diag-mix)    genzoo_args="pixelrnn-diag --likelihood logistic-mixture --mixtures 5 --features 16 --layers 3 --output-features 32 --max-steps $STEPS --epochs 100" ;;
  vae-mix)     genzoo_args="vae-conv --decoder logistic-mixture --mixtures 5 --latent-dim 32 --conv-channels 16 32 32 32 --conv-dense 128 --max-steps $STEPS --epochs 100" ;;
  gated-cond)  genzoo_args="pixelcnn-gated --likelihood categorical --model-classes 10 --features 16 --layers 3 --output-features 32 --max-steps $STEPS --epochs 100" ;;
  gated-cond-mix) genzoo_args="pixelcnn-gated --likelihood logistic-mixture --mixtures 5 --model-classes 10 --features 16 --layers 3 --output-features 32 --max-steps $STEPS --epochs 100" ;;
  independent-mix) genzoo_args="independent --likelihood logistic-mixture --mixtures 5 --max-steps $STEPS --epochs 100" ;;
  *) echo "unknown benchmark $1" >&2; exit 2 ;;
esac
RUN=runs/colour_$1
start=$(date +%s)
python -m genzoo train $genzoo_args $COMMON --out "$RUN"
echo "train_seconds=$(( $(date +%s) - start ))"
python benchmarks/colour_emoji.py "$RUN" --grid "docs/img/colour_emoji_$1.png" --samples 10
