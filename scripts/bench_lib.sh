# bench_lib.sh: sourced by the scripts/bench*.sh scripts (from the repository's
# root, with $mq the marquee binary).

# The machine and the moment, for each section's heading.
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
mem=$(free -g | awk '/Mem:/ {print $2}')
now=$(date -u +%Y-%m-%dT%H:%MZ)

# jget KEY: the first number under "KEY" in the JSON on stdin.
jget() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1; }

# serve_start OUT ARGS...: runs `$mq ARGS...` (a `serve --port 0` command line) in
# the background, its stdout in OUT.out and stderr in OUT.log, until it listens;
# sets server_pid and port, or exits saying why the server did not start.
serve_start() {
  local out=$1
  shift
  "$mq" "$@" > "$out.out" 2> "$out.log" &
  server_pid=$!
  for _ in $(seq 600); do
    grep -q '^listening on' "$out.out" 2>/dev/null && break
    sleep 0.1
  done
  port=$(sed -n 's/^listening on http:.*:\([0-9]*\)$/\1/p' "$out.out")
  [ -n "$port" ] || { echo "bench: the server did not start: $(cat "$out.log")" >&2; exit 1; }
}

# serve_stop: stops the server serve_start started.
serve_stop() {
  kill -TERM "$server_pid"
  wait "$server_pid" || echo "bench: the server exited with status $?" >&2
  server_pid=
}

# splice_section DOC SECTION FILE: puts FILE between the markers
# <!-- bench:SECTION --> and <!-- /bench:SECTION --> of DOC (appending them at the
# end the first time; creating DOC with its heading if it is missing), then
# prints FILE.
splice_section() {
  local doc=$1 section=$2 file=$3 tmp
  tmp=$(mktemp)
  [ -f "$doc" ] || printf '# Benchmarks\n\nWritten by `make bench`. Each section names its machine and commands.\n' > "$doc"
  local begin="<!-- bench:$section -->" end="<!-- /bench:$section -->"
  if grep -qF "$begin" "$doc"; then
    awk -v b="$begin" -v e="$end" -v f="$file" '
      $0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
      $0 == e { skip = 0 }
      !skip { print }' "$doc" > "$tmp"
  else
    { cat "$doc"; echo; echo "$begin"; cat "$file"; echo "$end"; } > "$tmp"
  fi
  cp "$tmp" "$doc"
  rm -f "$tmp"
  cat "$file"
}
