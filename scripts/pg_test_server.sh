#!/usr/bin/env bash
# pg_test_server.sh: a throwaway PostgreSQL server for the tests and benchmarks,
# in a temporary directory, listening on loopback only (a free port) and on a
# unix socket inside that directory. initdb refuses to run as root, so as root
# the server runs as the `postgres` user (runuser), from Debian's
# /usr/lib/postgresql/15/bin; as another user it runs as that user.
#
#   pg_test_server.sh run CMD [ARGS...]   start a server, run CMD with
#                                         MQ_TEST_POSTGRES (a URL where the tests
#                                         may create databases) and
#                                         MQ_TEST_POSTGRES_DIR exported, stop the
#                                         server on exit whatever happens; with
#                                         MQ_TEST_POSTGRES already set, just CMD
#   pg_test_server.sh start DIR           start a server in DIR (created); prints
#                                         the two variables as shell assignments
#   pg_test_server.sh stop DIR            stop it and remove DIR
#   pg_test_server.sh pause DIR [MODE]    stop the server, keep its data (MODE:
#                                         fast or immediate, the default: a crash)
#   pg_test_server.sh resume DIR          start it again on the same port
#
# The URL's role is `marquee`, with CREATEDB, trusted on loopback: this server is
# for tests only. Set MQ_PG_FSYNC=off to skip fsyncs (faster tests; a stop with
# MODE immediate still keeps every commit, only an OS crash would not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${MQ_PG_BIN:-/usr/lib/postgresql/15/bin}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_installed() {
  [ -x "$bin/initdb" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "pg_test_server: $bin/initdb is missing; as root run: apt-get install -y postgresql" >&2
    return 1
  fi
  echo "pg_test_server: installing postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  [ -x "$bin/initdb" ]
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pg_start() { # DIR
  local dir=$1 port
  port=$(cat "$dir/port")
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c fsync=${MQ_PG_FSYNC:-on} -c max_connections=200" \
    start >/dev/null
}

url_of() { # DIR
  echo "postgres://marquee@127.0.0.1:$(cat "$1/port")/postgres"
}

cmd_start() { # DIR
  local dir=$1
  ensure_installed
  mkdir -p "$dir/sock"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$dir"
  if ! as_pg test -w "$dir"; then
    echo "pg_test_server: $dir: the postgres user cannot reach it (a parent directory is private)" >&2
    return 1
  fi
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
    > "$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  local tries=0 port
  while :; do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if port_free "$port"; then
      echo "$port" > "$dir/port"
      pg_start "$dir" && break
    fi
    tries=$((tries + 1))
    if [ $tries -ge 5 ]; then
      echo "pg_test_server: the server did not start:" >&2
      tail -20 "$dir/server.log" >&2 || true
      return 1
    fi
  done
  as_pg "$bin/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE marquee LOGIN CREATEDB" >/dev/null
  echo "MQ_TEST_POSTGRES=$(url_of "$dir")"
  echo "MQ_TEST_POSTGRES_DIR=$dir"
}

cmd_stop() { # DIR
  local dir=$1
  [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

cmd_pause() { # DIR [MODE]
  as_pg "$bin/pg_ctl" -D "$1/data" -m "${2:-immediate}" -w stop >/dev/null
}

cmd_run() {
  if [ -n "${MQ_TEST_POSTGRES:-}" ]; then
    "$@"
    return
  fi
  if ! ensure_installed; then
    echo "pg_test_server: no PostgreSQL: its tests will skip" >&2
    "$@"
    return
  fi
  local dir
  dir=$(mktemp -d /tmp/marquee-pg-XXXXXX)
  # shellcheck disable=SC2064
  trap "'$here/pg_test_server.sh' stop '$dir'" EXIT
  trap 'exit 130' INT TERM # so that the EXIT trap stops the server then too
  local vars
  vars=$(cmd_start "$dir")
  export ${vars?}
  echo "pg_test_server: PostgreSQL for the tests at $MQ_TEST_POSTGRES ($dir)" >&2
  local rc=0
  "$@" || rc=$?
  return $rc
}

case "${1:-}" in
run) shift; cmd_run "$@" ;;
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
pause) cmd_pause "$2" "${3:-immediate}" ;;
resume) pg_start "$2" ;;
*)
  sed -n '2,25p' "$0" >&2
  exit 2
  ;;
esac
