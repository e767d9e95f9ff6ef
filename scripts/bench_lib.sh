# bench_lib.sh: sourced by the scripts/bench*.sh scripts.

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
