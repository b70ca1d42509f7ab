#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for meterlib's tests: initdb under a temporary directory,
# listening on a free port of 127.0.0.1 only, with a random password and one database.
#
#   tests/postgres.sh start          start one (or reuse the one started before); prints
#                                    `export METERLIB_TEST_POSTGRES_URL=...` for eval
#   tests/postgres.sh url            the URL of the running one (exit 1 if none)
#   tests/postgres.sh stop           stop it and delete its directory (nothing running: no-op)
#   tests/postgres.sh -- CMD ARGS    start a private one, run CMD with METERLIB_TEST_POSTGRES_URL
#                                    set, stop it, and exit with CMD's status
#
# METERLIB_PG_DURABLE=1 keeps the server's default durability (fsync on); otherwise fsync is
# off, as a throwaway cluster for tests needs speed, not durability (benchmarks/postgres.py
# starts its own cluster with it).
#
# Needs PostgreSQL's server binaries (Debian: apt-get install -y postgresql). initdb refuses
# to run as root, so as root the cluster runs as the `postgres` user (runuser).
set -euo pipefail

STATE_FILE="${METERLIB_PG_STATE:-${TMPDIR:-/tmp}/meterlib-test-postgres.$(id -u)}"
START_TIMEOUT=60 # seconds pg_ctl waits for the server to accept connections (and to stop)
DB=meterlib_test
DB_USER=meterlib

die() {
    echo "tests/postgres.sh: $*" >&2
    exit 2
}

find_bindir() {
    local dir
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    # Debian keeps the server binaries off PATH, one folder per major version: take the newest
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
            echo "$dir"
            return
        fi
    done
    die "no PostgreSQL server binaries (initdb, pg_ctl) found; install them (Debian: apt-get install -y postgresql)"
}

# as_owner CMD...: run CMD as the user that owns the cluster
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_cluster DIR: initdb + start + createdb under DIR; prints the URL
start_cluster() {
    local dir=$1 bindir password port attempt log durability=" -c fsync=off"
    if [[ ${METERLIB_PG_DURABLE:-} == 1 ]]; then
        durability=""
    fi
    bindir=$(find_bindir)
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user for initdb"
        chown postgres: "$dir"
    fi
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    printf '%s\n' "$password" >"$dir/pwfile"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$dir/pwfile"
    chmod 600 "$dir/pwfile"
    echo "$bindir" >"$dir/bindir" # from here on, stop_cluster can stop what we start
    log="$dir/initdb.log"
    as_owner "$bindir/initdb" -D "$dir/data" -U "$DB_USER" --pwfile="$dir/pwfile" \
        --auth=scram-sha-256 --encoding=UTF8 --no-locale >"$log" 2>&1 ||
        { cat "$log" >&2; die "initdb failed"; }
    rm -f "$dir/pwfile"
    # A port found free can be taken before the server binds it: try a few.
    for attempt in 1 2 3; do
        port=$(free_port)
        if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t "$START_TIMEOUT" \
            -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir'$durability -c max_connections=200" \
            start >/dev/null 9>&-; then # the server must not inherit the state lock
            break
        fi
        if [[ $attempt -eq 3 ]]; then
            cat "$dir/server.log" >&2 || true
            die "the server did not start"
        fi
    done
    PGPASSWORD=$password "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB" ||
        die "createdb failed"
    echo "postgresql://$DB_USER:$password@127.0.0.1:$port/$DB"
}

# stop_cluster DIR: stop the server (if running) and delete DIR
stop_cluster() {
    local dir=$1 bindir
    [[ -d $dir ]] || return 0
    if [[ -f $dir/bindir && -d $dir/data ]]; then
        bindir=$(cat "$dir/bindir")
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t "$START_TIMEOUT" stop \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

running_url() {
    local dir bindir
    [[ -f $STATE_FILE ]] || return 1
    dir=$(sed -n 1p "$STATE_FILE")
    [[ -f $dir/bindir ]] || return 1
    bindir=$(cat "$dir/bindir")
    as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || return 1
    sed -n 2p "$STATE_FILE"
}

# serialise start and stop of the shared cluster between concurrent callers
take_state_lock() {
    exec 9>"$STATE_FILE.lock"
    flock -w 300 9 || die "another tests/postgres.sh holds $STATE_FILE.lock"
}

cmd_start() {
    local url dir
    take_state_lock
    if url=$(running_url); then
        echo "export METERLIB_TEST_POSTGRES_URL='$url'"
        return
    fi
    stop_state # a stale state file from a crashed run
    dir=$(mktemp -d "${TMPDIR:-/tmp}/meterlib-pg.XXXXXX")
    if ! url=$(start_cluster "$dir"); then
        stop_cluster "$dir"
        exit 2
    fi
    printf '%s\n%s\n' "$dir" "$url" >"$STATE_FILE"
    chmod 600 "$STATE_FILE"
    echo "export METERLIB_TEST_POSTGRES_URL='$url'"
}

cmd_stop() {
    take_state_lock
    stop_state
}

stop_state() {
    [[ -f $STATE_FILE ]] || return 0
    stop_cluster "$(sed -n 1p "$STATE_FILE")"
    rm -f "$STATE_FILE"
}

cmd_run() {
    local dir url status
    [[ $# -gt 0 ]] || die "usage: tests/postgres.sh -- COMMAND [ARGS...]"
    dir=$(mktemp -d "${TMPDIR:-/tmp}/meterlib-pg.XXXXXX")
    trap 'stop_cluster "$dir"' EXIT
    trap 'exit 130' INT TERM
    url=$(start_cluster "$dir") || exit 2
    echo "tests/postgres.sh: PostgreSQL on ${url##*@}" >&2
    status=0
    METERLIB_TEST_POSTGRES_URL=$url "$@" || status=$?
    exit "$status"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
url) running_url || { echo "tests/postgres.sh: no cluster running" >&2; exit 1; } ;;
--)
    shift
    cmd_run "$@"
    ;;
*)
    echo "usage: tests/postgres.sh start | stop | url | -- COMMAND [ARGS...]" >&2
    exit 2
    ;;
esac
