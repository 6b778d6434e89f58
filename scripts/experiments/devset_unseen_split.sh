#!/usr/bin/env bash
# Makes a folder benchmark of the devset scenes that ../shared/trainset does not show (trainset's README
# lists the 7 shared scenes), plus devset's distractors: the set on which fine-tuning on trainset is
# judged for landmarks it never saw. Images are linked, not copied.
#   scripts/experiments/devset_unseen_split.sh [DEVSET] [OUT]
set -euo pipefail
devset=$(realpath "${1:-../shared/devset}")
out=${2:-/tmp/devset-unseen}
shared='^(buddha_head_object|cyprus_arch_ruins|herz_jesu_church|monster_tree_trunk|palmyra_temple_of_bel|strecha_castle_courtyard|strecha_castle_fountain)$'
mkdir -p "$out"
ln -sfn "$devset/images" "$out/images"
awk -F'\t' -v shared="$shared" 'NR == 1 || $2 !~ shared' "$devset/ground_truth.tsv" > "$out/ground_truth.tsv"
echo "$out: $(($(wc -l < "$out/ground_truth.tsv") - 1)) images, $(cut -f2 "$out/ground_truth.tsv" | tail -n +2 | grep -v '^$' | sort -u | wc -l) scenes"
