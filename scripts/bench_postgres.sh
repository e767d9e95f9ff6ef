#!/usr/bin/env bash
# bench_postgres.sh: ingestion on PostgreSQL with one and two `marquee serve`
# nodes, next to SQLite with one, written into docs/benchmarks.md between the
# markers of its section (issue 9).
#   scripts/bench_postgres.sh [BUILD_DIR] [SECONDS]
# A throwaway PostgreSQL 15 server (scripts/pg_test_server.sh, fsync on, on this
# machine) holds a fresh database per run. For batches of 1 and of 1,000 events:
# bench/bench_ingest posts for SECONDS (default 10) to one node, or to two nodes
# at once (half the connections each, the events/s summed); afterwards the store
# must hold exactly the acknowledged events. Then homepages/s (bench/bench_get) on
# the stores of the batch-of-1,000 runs, with a bundle trained on them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench_lib.sh
build=${1:-build}
secs=${2:-10}
mq=./$build/marquee
command -v sqlite3 >/dev/null || { echo "bench: needs the sqlite3 command (apt-get install sqlite3)" >&2; exit 1; }
command -v psql >/dev/null || { echo "bench: needs psql (apt-get install postgresql-client)" >&2; exit 1; }
work=$(mktemp -d /tmp/marquee-bench-pg-XXXXXX)
pgdir=$(mktemp -u /tmp/marquee-bench-pgsrv-XXXXXX) # the postgres user must reach it
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/pg_test_server.sh stop "$pgdir" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
doc=docs/benchmarks.md
section=postgres

vars=$(MQ_PG_FSYNC=on scripts/pg_test_server.sh start "$pgdir")
base=$(echo "$vars" | sed -n 's/^MQ_TEST_POSTGRES=//p')
new_db() { # N: prints the URL of a fresh database benchN
  psql "$base" -qAt -c "CREATE DATABASE bench$1" >/dev/null
  echo "${base%/*}/bench$1"
}

# start DIR [STORE]: starts a node; sets port
start() {
  local dir=$1 store=${2:-}
  mkdir -p "$dir"
  serve_start "$dir" --data "$dir" ${store:+--store "$store"} serve --port 0
  pids+=("$server_pid")
}

stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}

stored() { # STORE_OR_DIR
  case $1 in
  postgres://*) "$mq" --store "$1" --data "$work/none" stats --json | jget events ;;
  *) "$mq" --data "$1" stats --json | jget events ;;
  esac
}

out=$work/section.md
{
  echo "## PostgreSQL and several nodes (issue 9)"
  echo
  echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($cpu; load average $(cut -d' ' -f1 /proc/loadavg) at the start), by"
  echo "\`scripts/bench_postgres.sh $build $secs\`. Everything runs on this one machine: PostgreSQL 15"
  echo "(Debian's, default settings, fsync and synchronous_commit on), the nodes and the load"
  echo "generator share its cores, so two nodes cannot show the scaling that two machines would;"
  echo "the machine is shared with other work, and figures move by ±30% or more between runs."
  echo "The load is that of the ingestion section above (bench/bench_ingest: sessions of"
  echo "10-30 events over 100,000 profiles and 100 titles, unique event ids), ${secs} s per run"
  echo "from an empty store. With two nodes each gets half the connections and its own"
  echo "bench_ingest; events/s is their sum. \"lost\" compares the acknowledged events with"
  echo "what the store holds afterwards."
  echo
  echo "| store | nodes | batch | connections | events/s | requests/s | p50 ms | p99 ms | lost |"
  echo "|---|---|---|---|---|---|---|---|---|"
} > "$out"

for spec in "1 64" "1000 8"; do
  set -- $spec
  batch=$1 conns=$2
  # SQLite, one node
  d=$work/sq$batch
  echo "bench: SQLite, 1 node, batch $batch" >&2
  start "$d"
  ./$build/bench_ingest --port "$port" --setup --batch "$batch" --conns "$conns" \
    --seconds "$secs" --prefix "s$batch" > "$d.json"
  stop_all
  acked=$(jget events_accepted < "$d.json")
  lost=$(( acked - $(stored "$d") ))
  printf '| SQLite | 1 | %s | %s | %.0f | %.0f | %.2f | %.2f | %d of %s |\n' "$batch" "$conns" \
    "$(jget events_per_s < "$d.json")" "$(jget requests_per_s < "$d.json")" \
    "$(jget p50_ms < "$d.json")" "$(jget p99_ms < "$d.json")" "$lost" "$acked" >> "$out"
  [ "$batch" = 1000 ] || rm -rf "$d" # the last run's store serves the homepages below
  sync

  # PostgreSQL, one node
  url=$(new_db "1x$batch")
  d=$work/pg1-$batch
  echo "bench: PostgreSQL, 1 node, batch $batch" >&2
  start "$d" "$url"
  ./$build/bench_ingest --port "$port" --setup --batch "$batch" --conns "$conns" \
    --seconds "$secs" --prefix "p$batch" > "$d.json"
  stop_all
  acked=$(jget events_accepted < "$d.json")
  lost=$(( acked - $(stored "$url") ))
  printf '| PostgreSQL | 1 | %s | %s | %.0f | %.0f | %.2f | %.2f | %d of %s |\n' "$batch" "$conns" \
    "$(jget events_per_s < "$d.json")" "$(jget requests_per_s < "$d.json")" \
    "$(jget p50_ms < "$d.json")" "$(jget p99_ms < "$d.json")" "$lost" "$acked" >> "$out"

  # PostgreSQL, two nodes
  url=$(new_db "2x$batch")
  echo "bench: PostgreSQL, 2 nodes, batch $batch" >&2
  start "$work/pg2a-$batch" "$url"
  pa=$port
  start "$work/pg2b-$batch" "$url"
  pb=$port
  ./$build/bench_ingest --port "$pa" --setup --batch 1 --conns 1 --seconds 0.1 --prefix "w$batch" > /dev/null
  half=$(( conns / 2 ))
  ./$build/bench_ingest --port "$pa" --batch "$batch" --conns "$half" --seconds "$secs" \
    --prefix "a$batch" > "$work/a.json" &
  ba=$!
  ./$build/bench_ingest --port "$pb" --batch "$batch" --conns "$half" --seconds "$secs" \
    --prefix "b$batch" > "$work/b.json" &
  bb=$!
  wait "$ba" "$bb"
  sleep 1.5 # each node follows the other's events into its live state
  followed=$(curl -s "http://127.0.0.1:$pb/metrics" | sed -n 's/^marquee_events_followed_total //p')
  stop_all
  warm=$(psql "$url" -qAt -c "SELECT count(*) FROM events WHERE event_id LIKE 'w$batch-%'")
  acked=$(( $(jget events_accepted < "$work/a.json") + $(jget events_accepted < "$work/b.json") + warm ))
  lost=$(( acked - $(stored "$url") ))
  ev=$(awk -v a="$(jget events_per_s < "$work/a.json")" -v b="$(jget events_per_s < "$work/b.json")" 'BEGIN { print a + b }')
  rq=$(awk -v a="$(jget requests_per_s < "$work/a.json")" -v b="$(jget requests_per_s < "$work/b.json")" 'BEGIN { print a + b }')
  p50=$(printf '%s\n%s\n' "$(jget p50_ms < "$work/a.json")" "$(jget p50_ms < "$work/b.json")" | sort -g | tail -1)
  p99=$(printf '%s\n%s\n' "$(jget p99_ms < "$work/a.json")" "$(jget p99_ms < "$work/b.json")" | sort -g | tail -1)
  printf '| PostgreSQL | 2 | %s | %s (%s + %s) | %.0f | %.0f | %.2f | %.2f | %d of %s |\n' "$batch" \
    "$conns" "$half" "$half" "$ev" "$rq" "$p50" "$p99" "$lost" "$acked" >> "$out"
  echo "bench: node B folded in $followed events committed by node A" >&2
done

{
  echo
  echo "With two nodes, each also folds the other's events into its live state"
  echo "(marquee_events_followed_total), which the figures include."
  echo
  echo "Why PostgreSQL ingests less than SQLite here: every group commit is several round trips"
  echo "to another process (BEGIN, one multi-row INSERT ... SELECT FROM unnest(...) for all the"
  echo "group's events, the check that the profiles and titles still exist, NOTIFY + COMMIT), and"
  echo "each event goes into the heap and four indexes (seq, event_id, (profile_id, seq) and"
  echo "(xid, seq), the last for following the log) with its WAL, all on the same two cores as"
  echo "the nodes and the load generator; SQLite does the same work in-process. Single-event"
  echo "requests gain most from merging a group's requests into one INSERT (the writer appends"
  echo "consecutive event requests of a group together). Two nodes on one machine add no cores,"
  echo "only a second writer and the work of following each other, so they show the cost of"
  echo "coordination, not the gain; across machines, the database's insert rate is the limit."
  echo
  echo "Homepages: the stores of the batch-of-1,000 runs (one node each) get a bundle from"
  echo "\`marquee train --no-validation\`, then bench/bench_get requests"
  echo "\`GET /v1/profiles/{profile}/homepage\` for profiles drawn uniformly from those the store"
  echo "holds, over 8 keep-alive connections for ${secs} s (with two nodes, 4 to each). A homepage is"
  echo "built from the node's live state and bundle: it reads the store only for the profile's row."
  echo
  echo "| store | nodes | pages/s | p50 ms | p99 ms | not 200 | command |"
  echo "|---|---|---|---|---|---|---|"
} >> "$out"

page_row() { # STORE NODES JSON
  printf '| %s | %s | %.0f | %.2f | %.2f | %s | `bench_get --path /v1/profiles/{profile}/homepage --ids IDS --conns 8 --seconds %s` |\n' \
    "$1" "$2" "$(jget requests_per_s < "$3")" "$(jget p50_ms < "$3")" "$(jget p99_ms < "$3")" \
    "$(jget not_ok < "$3")" "$secs" >> "$out"
}
hp=/v1/profiles/{profile}/homepage
sqlite3 "$work/sq1000/marquee.db" "SELECT ext_id FROM profiles" > "$work/ids-sq.txt"
psql "${base%/*}/bench1x1000" -qAt -c "SELECT ext_id FROM profiles" > "$work/ids-pg.txt"
echo "bench: training bundles for the homepages" >&2
"$mq" --data "$work/sq1000" train --no-validation > "$work/train-sq.log" 2>&1
"$mq" --data "$work/trainer" --store "$(echo "${base%/*}/bench1x1000")" train --no-validation \
  > "$work/train-pg.log" 2>&1
echo "bench: homepages, SQLite, 1 node" >&2
start "$work/sq1000"
./$build/bench_get --port "$port" --path "$hp" --ids "$work/ids-sq.txt" --conns 8 --seconds "$secs" > "$work/h1.json"
stop_all
page_row SQLite 1 "$work/h1.json"
url=${base%/*}/bench1x1000
echo "bench: homepages, PostgreSQL, 1 node" >&2
start "$work/h-pg1" "$url"
./$build/bench_get --port "$port" --path "$hp" --ids "$work/ids-pg.txt" --conns 8 --seconds "$secs" > "$work/h2.json"
stop_all
page_row PostgreSQL 1 "$work/h2.json"
echo "bench: homepages, PostgreSQL, 2 nodes" >&2
start "$work/h-pg2a" "$url"
pa=$port
start "$work/h-pg2b" "$url"
./$build/bench_get --port "$pa" --port "$port" --path "$hp" --ids "$work/ids-pg.txt" --conns 8 \
  --seconds "$secs" > "$work/h3.json"
stop_all
page_row PostgreSQL 2 "$work/h3.json"

splice_section "$doc" "$section" "$out"
