#!/bin/bash
# Discriminative re-ranking needs a labelled train set that is not the evaluated folder itself. This
# splits a folder benchmark (default ../shared/devset) in two, outside the repository: the first image of
# every landmark becomes the train set, everything else (with the distractors) the evaluated folder. It
# then indexes the train half and runs the ablation of PIPELINE (default best,dre100) on the other half.
#
#   scripts/experiments/devset_dre_split.sh [DATASET] [PIPELINE] [WORKDIR]
set -euo pipefail
dataset=${1:-../shared/devset}
pipeline=${2:-best,dre100}
work=${3:-$(mktemp -d /tmp/landmark-dre-split.XXXXXX)}
landmark=${LANDMARK:-.build/release/landmark}
mkdir -p "$work/train/images" "$work/evaluated/images"
printf 'image\tlandmark\n' > "$work/train/ground_truth.tsv"
printf 'image\tlandmark\n' > "$work/evaluated/ground_truth.tsv"
tail -n +2 "$dataset/ground_truth.tsv" | while IFS=$'\t' read -r image label; do
  [ -z "$image" ] && continue
  if [ -n "$label" ] && [ ! -e "$work/train/.seen-$label" ]; then
    touch "$work/train/.seen-$label"
    cp "$dataset/$image" "$work/train/$image"
    printf '%s\t%s\n' "$image" "$label" >> "$work/train/ground_truth.tsv"
  else
    cp "$dataset/$image" "$work/evaluated/$image"
    printf '%s\t%s\n' "$image" "$label" >> "$work/evaluated/ground_truth.tsv"
  fi
done
rm -f "$work"/train/.seen-*
echo "train: $(($(wc -l < "$work/train/ground_truth.tsv") - 1)) images; evaluated: $(($(wc -l < "$work/evaluated/ground_truth.tsv") - 1)) images (in $work)" >&2
"$landmark" index "$work/train" --out "$work/train.index" --quiet
"$landmark" evaluate --dataset "$work/evaluated" --pipeline "$pipeline" --train-index "$work/train.index" \
  --ablation --ablation-out "$work/ablation" --quiet
