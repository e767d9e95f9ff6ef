#!/usr/bin/env bash
# bench_rank.sh: the ranker and the match score (issue 5), written into
# docs/benchmarks.md between <!-- bench:rank --> and <!-- /bench:rank -->.
#   scripts/bench_rank.sh [BUILD_DIR]
# On the default synthetic world (`marquee synth`): the ranker's training time
# (`marquee train --json`), serving costs (bench_rank: trees per candidate against
# XGBoost's predict, ranking 1,000 candidates, mq_rank_profile and the
# recommendations endpoint's p50/p99), and `marquee eval --protocol time`: NDCG@10
# of the ranker against the best single candidate model with a bootstrap 95%
# interval, feature importance, the match score's reliability table and ECE. The
# same evaluation on ml-latest-small (../shared/data/ml-latest-small), skipped with
# a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench_lib.sh
build=${1:-build}
mq=./$build/marquee
br=./$build/bench_rank
ml=../shared/data/ml-latest-small
work=$(mktemp -d /tmp/marquee-bench-rank-XXXXXX)
trap 'rm -rf "$work"' EXIT
doc=docs/benchmarks.md
section=rank

load=$(cut -d' ' -f1-3 /proc/loadavg)

echo "bench_rank: the default synthetic world..." >&2
"$mq" --data "$work/w" synth > /dev/null 2>&1
"$mq" --data "$work/w" train --no-validation --json > "$work/train.json" 2> /dev/null
rank_total=$(sed -n '/"ranker"/,/}/p' "$work/train.json" | jget seconds)
rank_total=$(awk "BEGIN { printf \"%.1f\", $rank_total }")
xgb=$(awk "BEGIN { printf \"%.1f\", $(jget train_seconds < "$work/train.json") }")
groups=$(jget groups < "$work/train.json")
rows=$(jget rows < "$work/train.json")
echo "bench_rank: serving costs..." >&2
"$br" "$work/w" 2000 > "$work/serve.md"
echo "bench_rank: eval --protocol time on the synthetic world..." >&2
"$mq" --data "$work/w" eval --protocol time > "$work/eval.txt" 2> /dev/null
if [ -d "$ml" ]; then
  echo "bench_rank: eval --protocol time on ml-latest-small..." >&2
  "$mq" --data "$work/ml" import movielens "$ml" > /dev/null 2>&1
  "$mq" --data "$work/ml" eval --protocol time > "$work/ml.txt" 2> /dev/null
fi

out=$work/section.md
{
  echo "## Ranker and match score (issue 5)"
  echo
  echo "Measured $now on $(nproc) cores ($cpu) by \`scripts/bench_rank.sh\`; load average at"
  echo "the start: $load (the machine is shared). Default synthetic world (\`marquee synth\`:"
  echo "5,000 titles, 20,000 profiles, 90 days, about 2 million events)."
  echo
  echo "**Training** (\`marquee train\`): the ranker's whole fit (candidate models refitted"
  echo "before its window, the event log replayed into features, XGBoost, the match score"
  echo "and its calibration) took ${rank_total:-?} s, of which XGBoost's LambdaMART ${xgb} s, on"
  echo "${groups} pages (${rows} impressions)."
  echo
  echo "**Serving** (\`bench_rank\`; \"trees per candidate\" is the 1,000 rows of one real"
  echo "request scored at once; ranking excludes the candidate models' catalogue scores,"
  echo "computed once per request and included in the two end-to-end rows):"
  echo
  cat "$work/serve.md"
  echo
  echo "**Quality**, \`marquee eval --protocol time\` (T = the 0.9 quantile of event times;"
  echo "docs/ranking.md, \"Evaluation\"), synthetic world:"
  echo
  echo '```'
  sed -n '/^ranker (/,$p' "$work/eval.txt"
  echo '```'
  echo
  if [ -f "$work/ml.txt" ]; then
    echo "ml-latest-small (no impressions: no ranker by default, the fallback blend serves; each profile's
candidate set at T ranked, its positives after T relevant):"
    echo
    echo '```'
    sed -n '/^ranker (/,$p' "$work/ml.txt"
    echo '```'
  else
    echo "ml-latest-small: skipped ($ml is absent)."
  fi
} > "$out"

splice_section "$doc" "$section" "$out"
