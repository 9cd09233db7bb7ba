#!/usr/bin/env bash
# Load benchmark of the registration desk: POST /api/v1/verify with thousands of distinct valid
# cards, beside the same server's GET /healthz in the same run, on SQLite and (when reachable)
# PostgreSQL. Every verification is durably audited; the script checks the audit log afterwards.
#
#   bench/verify.sh                      # 3 rounds of 10 s each, 64 connections, 2500 households
#   DURATION=30s CONNS=64 HOUSEHOLDS=5000 bench/verify.sh
#   BACKENDS=sqlite bench/verify.sh      # one backend only
#   SERVER_ENV="RUST_LOG=debug" bench/verify.sh   # extra environment for the server
#
# Needs wrk (Debian package `wrk`) and python3. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
HOUSEHOLDS=${HOUSEHOLDS:-2500}
BACKENDS=${BACKENDS:-sqlite postgres}
# Rounds alternate healthz and verify; the machine is shared, so the median ratio is reported.
ROUNDS=${ROUNDS:-3}
PG_ADMIN=${GREENCHANNEL_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

cargo build --release --quiet
BIN=$PWD/target/release/greenchannel
WORK=$(mktemp -d)
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$2"; }

run() {
    local name=$1 url=$2 p out
    p=$(port)
    out=$WORK/$name
    mkdir -p "$out"
    "$BIN" --database "$url" demo --households "$HOUSEHOLDS" > "$out/demo.txt"
    local office desk
    office=$(awk '$1=="office"{print $2}' "$out/demo.txt")
    desk=$(awk '$1=="desk"{print $2}' "$out/demo.txt")
    env GREENCHANNEL_KEYS_DIR=$out/keys ${SERVER_ENV:-} RUST_LOG=warn "$BIN" --database "$url" serve --listen "127.0.0.1:$p" > "$out/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
    curl -sf -X POST -H "Authorization: Bearer $office" -H 'content-type: application/json' -d '{}' \
        "http://127.0.0.1:$p/api/v1/cards/batch" > "$out/batch.json"
    curl -sf -H "Authorization: Bearer $office" "http://127.0.0.1:$p/api/v1/cards?state=active&limit=10000" \
        | python3 -c 'import json,sys; [print(c["qr_text"]) for c in json.load(sys.stdin)]' > "$out/cards.txt"
    local round h v
    for round in $(seq "$ROUNDS"); do
        wrk -t1 -c"$CONNS" -d"$DURATION" -s bench/healthz.lua "http://127.0.0.1:$p/healthz" > "$out/healthz.$round.txt"
        CARDS=$out/cards.txt TOKEN=$desk wrk -t1 -c"$CONNS" -d"$DURATION" -s bench/verify.lua \
            "http://127.0.0.1:$p/api/v1/verify" > "$out/verify.$round.txt"
        h=$(field rps "$out/healthz.$round.txt"); v=$(field rps "$out/verify.$round.txt")
        printf '%-10s round %s  healthz: %s req/s p99 %s ms | verify: %s req/s p50 %s ms p99 %s ms, %s answered, %s errors | ratio %s\n' \
            "$name" "$round" "$h" "$(field p99_ms "$out/healthz.$round.txt")" "$v" "$(field p50_ms "$out/verify.$round.txt")" \
            "$(field p99_ms "$out/verify.$round.txt")" "$(field requests "$out/verify.$round.txt")" \
            "$(field errors "$out/verify.$round.txt")" "$(python3 -c "print(round($v / $h, 3))")"
        echo "$v $h" >> "$out/ratios"
    done
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    local audit logged verdicts
    audit=$(RUST_LOG=error "$BIN" --database "$url" audit check)
    logged=$(echo "$audit" | sed -n 's/.*intact: \([0-9]*\) entries.*/\1/p')
    verdicts=$(verdict_counts "$url")
    printf '%-10s cards=%s  median of %s rounds: verify %s req/s, healthz %s req/s, ratio %s | audit: %s entries, %s | verdicts: %s\n' \
        "$name" "$(wc -l < "$out/cards.txt")" "$ROUNDS" \
        "$(median 1 "$out/ratios")" "$(median 2 "$out/ratios")" "$(median_ratio "$out/ratios")" \
        "${logged:-?}" "$(echo "$audit" | head -c 40)" "$verdicts"
}

# The median of column $1 of file $2 (the rounds).
median() { sort -n -k"$1" "$2" | awk -v c="$1" '{a[NR]=$c} END {print a[int((NR+1)/2)]}'; }
# The median of the per-round ratios verify/healthz.
median_ratio() { awk '{print $1/$2}' "$1" | sort -n | awk '{a[NR]=$1} END {printf "%.3f\n", a[int((NR+1)/2)]}'; }
# What the desks were told, from the audit log itself: every scan should be valid.
verdict_counts() {
    local sql="select verdict || '=' || count(*) from verification group by verdict"
    case $1 in
        sqlite:*) python3 -c "import sqlite3,sys; print(' '.join(r[0] for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])))" "${1#sqlite:}" "$sql" ;;
        *) psql "$1" -qAtc "$sql" | tr '\n' ' ' ;;
    esac
}

echo "verify load benchmark: $ROUNDS rounds of $DURATION healthz then $DURATION verify, $CONNS connections, wrk -t1, $(nproc) cores"
[[ " $BACKENDS " == *" sqlite "* ]] && run sqlite "sqlite:$WORK/bench.db"
if [[ " $BACKENDS " == *" postgres "* ]] && psql "$PG_ADMIN" -qAtc 'select 1' >/dev/null 2>&1; then
    psql "$PG_ADMIN" -qc 'drop database if exists gc_bench_verify' -qc 'create database gc_bench_verify' >/dev/null
    run postgres "${PG_ADMIN%/*}/gc_bench_verify"
    psql "$PG_ADMIN" -qc 'drop database gc_bench_verify with (force)' >/dev/null
fi
