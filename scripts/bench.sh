#!/usr/bin/env bash
# bench.sh: the foundation benchmarks (issue 2), written into docs/benchmarks.md
# between the markers of its section, with the machine and the commands.
#   scripts/bench.sh [BUILD_DIR]
# Measures: synth time and store size for the default world; import rows/s for
# ml-latest-small (when ../shared has it) and for the default world's JSONL export;
# beside each, the raw SQLite insert rate for the same rows (bench_store raw DIR);
# and the store's own append path against raw inserts (bench_store).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench_lib.sh
build=${1:-build}
mq=./$build/marquee
work=$(mktemp -d /tmp/marquee-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
doc=docs/benchmarks.md
section=foundation


out=$work/section.md
{
  echo "## Foundation: synth, import, store (issue 2)"
  echo
  echo "Measured $now on $(nproc) cores ($cpu), ${mem} GiB, by \`make bench\` (scripts/bench.sh)."
  echo "The machine is shared and noisy: compare ratios within one run."
  echo
  echo "| what | figure | command |"
  echo "|---|---|---|"
} > "$out"

# 1. Synthetic world: default size.
echo "bench: synth (default world)" >&2
t0=$(date +%s.%N)
$mq --data "$work/synth" synth --export "$work/export" > "$work/synth.txt"
t1=$(date +%s.%N)
synth_s=$(awk "BEGIN { print $t1 - $t0 }")
events=$($mq --data "$work/synth" stats --json | jget events)
size_mb=$(du -sm "$work/synth" | cut -f1)
printf '| synth, default world (5,000 titles, 20,000 profiles) | %.1f s for %s events (target < 30 s) | `marquee --data D synth --export E` |\n' \
  "$synth_s" "$events" >> "$out"
printf '| store size on disk after synth | %s MB (%s bytes/event) | `du -sm D` |\n' \
  "$size_mb" "$(( size_mb * 1048576 / (events > 0 ? events : 1) ))" >> "$out"

# 2. Import of the same world from its JSONL export.
echo "bench: import the exported world" >&2
$mq --data "$work/imp" import titles "$work/export/titles.jsonl" --json > /dev/null
$mq --data "$work/imp" import profiles "$work/export/profiles.jsonl" --json > /dev/null
$mq --data "$work/imp" import events "$work/export/events.jsonl" --json > "$work/imp.json"
rate=$(jget rows_per_s < "$work/imp.json")
raw=$($build/bench_store raw "$work/imp" | jget raw_sqlite_same_rows_per_s)
printf '| import events JSONL, default world | %.0f events/s | `marquee import events events.jsonl` |\n' "$rate" >> "$out"
printf '| raw SQLite prepared inserts, same rows | %.0f rows/s (import is %.0f%% of it) | `bench_store raw D` |\n' \
  "$raw" "$(awk "BEGIN { print 100 * $rate / $raw }")" >> "$out"

# 3. MovieLens latest-small, when ../shared has it.
ml=../shared/data/ml-latest-small
if [ -f "$ml/ratings.csv" ]; then
  echo "bench: import ml-latest-small" >&2
  $mq --data "$work/ml" import movielens "$ml" --json > "$work/ml.json"
  rate=$(jget rows_per_s < "$work/ml.json")
  raw=$($build/bench_store raw "$work/ml" | jget raw_sqlite_same_rows_per_s)
  printf '| import ml-latest-small (100,836 ratings) | %.0f rows/s (target ≥ 300,000) | `marquee import movielens %s` |\n' "$rate" "$ml" >> "$out"
  printf '| raw SQLite prepared inserts, same rows | %.0f rows/s (import is %.0f%% of it) | `bench_store raw D` |\n' \
    "$raw" "$(awk "BEGIN { print 100 * $rate / $raw }")" >> "$out"
else
  echo "| import ml-latest-small | skipped: $ml is absent | |" >> "$out"
fi

# 4. The store's append path against raw inserts of similar rows.
echo "bench: store append path" >&2
$build/bench_store 1000000 > "$work/store.json"
printf '| store append (resolve ids, dedupe, insert), 1M rating events | %.0f events/s | `bench_store 1000000` |\n' \
  "$(jget store_append_only_per_s < "$work/store.json")" >> "$out"
printf '| raw SQLite, same schema, same run | %.0f rows/s (without the profile index: %.0f) | `bench_store 1000000` |\n' \
  "$(jget raw_sqlite_same_schema_per_s < "$work/store.json")" \
  "$(jget raw_sqlite_no_profile_index_per_s < "$work/store.json")" >> "$out"

splice_section "$doc" "$section" "$out"
