#!/usr/bin/env bash
# fuzz.sh: runs each libFuzzer harness (fuzz/harness.c) for SECONDS (default 60)
# with ASan + UBSan, growing fuzz/corpus/. Needs clang and libclang-rt-14-dev.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi
out=build-fuzz
mkdir -p "$out"
srcs="src/util/*.c src/catalog/*.c src/events/*.c fuzz/harness.c fuzz/fuzz_main.c"
flags="-g -O1 -std=c11 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined $(pkg-config --cflags jansson)"
libs="$(pkg-config --libs jansson) -lm -lpthread"
for target in json:mq_fuzz_json time:mq_fuzz_text; do
  name=${target%%:*} fn=${target#*:}
  # shellcheck disable=SC2086
  clang $flags -DFUZZ_TARGET=$fn $srcs $libs -o "$out/fuzz_$name"
  echo "fuzz: $name for ${secs}s" >&2
  "$out/fuzz_$name" -max_total_time="$secs" -max_len=4096 "fuzz/corpus/$name"
done
