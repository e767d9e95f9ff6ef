#!/usr/bin/env bash
# tune_models.sh: the documented hyperparameter search for the candidate models on
# MovieLens latest-small, on VALIDATION profiles only (strong generalization,
# seed 1: the 10% validation profiles, never the 20% test ones), averaged over 10
# hold-out draws of those profiles (--repeats 10). Each grid point is one
# `marquee eval --split validation` run; the best point per model by Recall@20
# (ties: NDCG@100) is printed as flags, and the whole table is written into
# docs/models.md between <!-- tune:begin --> and <!-- tune:end -->.
#   scripts/tune_models.sh [BUILD_DIR] [DATA_DIR]
# DATA_DIR defaults to a fresh import of ../shared/data/ml-latest-small.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
mq=./$build/marquee
data=${2:-}
work=$(mktemp -d /tmp/marquee-tune-XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ -z "$data" ]; then
  data=$work/ml
  $mq --data "$data" import movielens ../shared/data/ml-latest-small > /dev/null
fi
jget() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1; }

table=$work/table.md
best=$work/best.txt
: > "$best"
{
  echo "| model | setting | Recall@20 | Recall@50 | NDCG@100 |"
  echo "|---|---|---|---|---|"
} > "$table"

# run MODEL "--flag v --flag v ..."
run() {
  local model=$1 flags=$2
  # shellcheck disable=SC2086
  $mq --data "$data" eval --split validation --seed 1 --repeats 10 --models "$model" --json \
    $flags > "$work/out.json" 2> /dev/null
  local r20 r50 n100
  r20=$(jget 'recall@20' < "$work/out.json")
  r50=$(jget 'recall@50' < "$work/out.json")
  n100=$(jget 'ndcg@100' < "$work/out.json")
  printf '| %s | `%s` | %.4f | %.4f | %.4f |\n' "$model" "$flags" "$r20" "$r50" "$n100" >> "$table"
  echo "$model $r20 $n100 $flags" >> "$work/all.txt"
  printf '%-8s %-70s R@20 %.4f R@50 %.4f N@100 %.4f\n' "$model" "$flags" "$r20" "$r50" "$n100" >&2
}

# choose MODEL: the best line for a model (Recall@20, then NDCG@100)
choose() {
  grep "^$1 " "$work/all.txt" | sort -k2,2gr -k3,3gr | head -1 | cut -d' ' -f4- >> "$best"
}

for h in 0 30 365 3650; do
  run popular "--models.popular.half_life_days $h"
done
choose popular

for nb in 50 100 200 400; do
  for sh in 0 10 50; do
    run knn "--models.knn.neighbours $nb --models.knn.shrink $sh"
  done
done
choose knn

for f in 64 128 256; do
  for reg in 0.003 0.01 0.03; do
    for a0 in 0.1 0.3 1; do
      run ials "--models.ials.factors $f --models.ials.reg $reg --models.ials.unobserved $a0"
    done
  done
done
choose ials

for l in 50 100 200 400 800; do
  for p in 0 0.25; do
    run ease "--models.ease.lambda $l --models.ease.dropout $p"
  done
done
choose ease

run content ""
flags=$(tr '\n' ' ' < "$best" | sed 's/  */ /g; s/ $//')
echo "chosen on validation: $flags"

doc=docs/models.md
if grep -qF '<!-- tune:begin -->' "$doc"; then
  {
    echo "Chosen (best Recall@20 on validation per model): \`$flags\`"
    echo
    cat "$table"
  } > "$work/section.md"
  awk -v f="$work/section.md" '
    $0 == "<!-- tune:begin -->" { print; while ((getline l < f) > 0) print l; skip = 1; next }
    $0 == "<!-- tune:end -->" { skip = 0 }
    !skip { print }' "$doc" > "$work/doc.md"
  cp "$work/doc.md" "$doc"
fi
