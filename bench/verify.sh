#!/usr/bin/env bash
# Load benchmark of the registration desk: POST /api/v1/verify beside the same server's
# GET /healthz in the same run, on SQLite and (when reachable) PostgreSQL, every scan durably
# audited (the script checks the audit log afterwards). Each round measures:
#   healthz  the baseline;
#   cold     every scan a card never scanned before (the server is restarted first, so its cache
#            of verified card texts is empty; the script warns if a card had to repeat);
#   warm     each card scanned four times as a hospital visit does — a block of 64 patients
#            registers, then pays, is examined, takes medicine — on a freshly restarted server.
# After the rounds, one more warm run while the office prints A4 sheets of 200 cards in a loop:
# the desk's p99 with CPU-heavy printing beside it.
#
#   bench/verify.sh                      # 3 rounds of 5 s each, 64 connections, 40000 households
#   DURATION=10s HOUSEHOLDS=80000 bench/verify.sh
#   BACKENDS=sqlite bench/verify.sh      # one backend only
#   SERVER_ENV="RUST_LOG=debug" bench/verify.sh   # extra environment for the server
#   BIN=/tmp/before/target/release/greenchannel bench/verify.sh   # another build
#
# Needs wrk (Debian package `wrk`), curl and python3. Traffic goes to 127.0.0.1 only.
set -euo pipefail
trap 'echo "bench/verify.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
HOUSEHOLDS=${HOUSEHOLDS:-40000}
BACKENDS=${BACKENDS:-sqlite postgres}
# Rounds alternate the three runs; the machine is shared, so medians of ratios are reported.
ROUNDS=${ROUNDS:-3}
PG_ADMIN=${GREENCHANNEL_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

# BIN=path/to/greenchannel measures another build (say, the commit before a change) with this
# script; otherwise this checkout's release build.
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=$PWD/target/release/greenchannel
fi
WORK=$(mktemp -d)
SERVER=""
PRINTER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; [ -n "$PRINTER" ] && kill "$PRINTER" 2>/dev/null; rm -rf "$WORK"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
field() { sed -n "s/.*[ ]$1=\([0-9.]*\).*/\1/p" "$2"; }

# start URL OUT PORT: the server on that database, waiting until it is ready.
start() {
    env GREENCHANNEL_KEYS_DIR=$2/keys ${SERVER_ENV:-} RUST_LOG=warn "$BIN" --database "$1" serve --listen "127.0.0.1:$3" >> "$2/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:$3/readyz" >/dev/null && return; sleep 0.1; done
    echo "the server did not come up: $(tail -3 "$2/server.log")" >&2; exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

# load OUT NAME MODE PORT TOKEN: one wrk run against /verify.
load() {
    CARDS=$1/cards.txt TOKEN=$5 MODE=$3 wrk -t1 -c"$CONNS" -d"$DURATION" -s bench/verify.lua \
        "http://127.0.0.1:$4/api/v1/verify" > "$1/$2.txt"
}

run() {
    local name=$1 url=$2 p out
    p=$(port)
    out=$WORK/$name
    mkdir -p "$out"
    "$BIN" --database "$url" demo --households "$HOUSEHOLDS" > "$out/demo.txt"
    local office desk
    office=$(awk '$1=="office"{print $4}' "$out/demo.txt")
    desk=$(awk '$1=="desk"{print $4}' "$out/demo.txt")
    start "$url" "$out" "$p"
    curl -sf -X POST -H "Authorization: Bearer $office" -H 'content-type: application/json' -d '{}' \
        "http://127.0.0.1:$p/api/v1/cards/batch" > "$out/batch.json"
    # Every active card, page by page (10,000 a page).
    python3 - "http://127.0.0.1:$p/api/v1/cards" "$office" > "$out/cards.txt" <<'PY'
import json, sys, urllib.request
url, token, after = sys.argv[1], sys.argv[2], 0
while True:
    req = urllib.request.Request(f"{url}?state=active&limit=10000&after={after}",
                                 headers={"Authorization": f"Bearer {token}"})
    page = json.load(urllib.request.urlopen(req))
    if not page:
        break
    for c in page:
        print(c["qr_text"])
    after = page[-1]["card_id"]
PY
    curl -sf -H "Authorization: Bearer $office" "http://127.0.0.1:$p/api/v1/cards?state=active&limit=200" \
        | python3 -c 'import json,sys; print(json.dumps({"serials": [c["serial"] for c in json.load(sys.stdin)]}))' > "$out/sheet.json"
    local round h c w
    for round in $(seq "$ROUNDS"); do
        wrk -t1 -c"$CONNS" -d"$DURATION" -s bench/healthz.lua "http://127.0.0.1:$p/healthz" > "$out/healthz.$round.txt"
        stop; start "$url" "$out" "$p"
        load "$out" "cold.$round" cold "$p" "$desk"
        stop; start "$url" "$out" "$p"
        load "$out" "warm.$round" warm "$p" "$desk"
        h=$(field rps "$out/healthz.$round.txt"); c=$(field rps "$out/cold.$round.txt"); w=$(field rps "$out/warm.$round.txt")
        printf '%-8s round %s  healthz %s req/s | cold %s req/s p99 %s ms (%s scans, %s errors, %s repeats) | warm %s req/s p99 %s ms (%s scans, %s errors) | cold %s× warm %s×\n' \
            "$name" "$round" "$h" "$c" "$(field p99_ms "$out/cold.$round.txt")" "$(field requests "$out/cold.$round.txt")" \
            "$(field errors "$out/cold.$round.txt")" "$(field repeats "$out/cold.$round.txt")" \
            "$w" "$(field p99_ms "$out/warm.$round.txt")" "$(field requests "$out/warm.$round.txt")" \
            "$(field errors "$out/warm.$round.txt")" \
            "$(python3 -c "print(round($c / $h, 3))")" "$(python3 -c "print(round($w / $h, 3))")"
        [ "$(field repeats "$out/cold.$round.txt")" = 0 ] || echo "WARNING: the cold run ran out of cards; raise HOUSEHOLDS" >&2
        echo "$c $h $(field p99_ms "$out/cold.$round.txt")" >> "$out/cold"
        echo "$w $h $(field p99_ms "$out/warm.$round.txt")" >> "$out/warm"
    done
    # The desk while the office prints: sheets of 200 cards, one after another.
    stop; start "$url" "$out" "$p"
    ( while true; do curl -s -o /dev/null -X POST -H "Authorization: Bearer $office" -H 'content-type: application/json' \
        -d @"$out/sheet.json" "http://127.0.0.1:$p/api/v1/cards/sheet.pdf"; echo >> "$out/sheets"; done ) &
    PRINTER=$!
    load "$out" "printing" warm "$p" "$desk"
    kill "$PRINTER"; wait "$PRINTER" 2>/dev/null || true; PRINTER=""
    stop
    local audit logged verdicts
    audit=$(RUST_LOG=error "$BIN" --database "$url" audit check)
    logged=$(echo "$audit" | sed -n 's/.*intact: \([0-9]*\) entries.*/\1/p')
    verdicts=$(verdict_counts "$url")
    printf '%-8s cards=%s  median of %s rounds: cold %s× (p99 %s ms), warm %s× (p99 %s ms) | warm while printing %s sheets: %s req/s p99 %s ms | audit: %s entries, %s | verdicts: %s\n' \
        "$name" "$(wc -l < "$out/cards.txt")" "$ROUNDS" \
        "$(median_ratio "$out/cold")" "$(median 3 "$out/cold")" "$(median_ratio "$out/warm")" "$(median 3 "$out/warm")" \
        "$(wc -l < "$out/sheets" 2>/dev/null || echo 0)" "$(field rps "$out/printing.txt")" "$(field p99_ms "$out/printing.txt")" \
        "${logged:-?}" "$(echo "$audit" | head -c 40)" "$verdicts"
}

# The median of column $1 of file $2 (the rounds).
median() { sort -n -k"$1" "$2" | awk -v c="$1" '{a[NR]=$c} END {print a[int((NR+1)/2)]}'; }
# The median of the per-round ratios (column 1 / column 2).
median_ratio() { awk '{print $1/$2}' "$1" | sort -n | awk '{a[NR]=$1} END {printf "%.3f\n", a[int((NR+1)/2)]}'; }
# What the desks were told, from the audit log itself: every scan should be valid.
verdict_counts() {
    local sql="select verdict || '=' || count(*) from verification group by verdict"
    case $1 in
        sqlite:*) python3 -c "import sqlite3,sys; print(' '.join(r[0] for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])))" "${1#sqlite:}" "$sql" ;;
        *) psql "$1" -qAtc "$sql" | tr '\n' ' ' ;;
    esac
}

echo "verify load benchmark: $ROUNDS rounds of $DURATION healthz, cold and warm verify, $CONNS connections, wrk -t1, $(nproc) cores"
[[ " $BACKENDS " == *" sqlite "* ]] && run sqlite "sqlite:$WORK/bench.db"
if [[ " $BACKENDS " == *" postgres "* ]] && psql "$PG_ADMIN" -qAtc 'select 1' >/dev/null 2>&1; then
    psql "$PG_ADMIN" -qc 'drop database if exists gc_bench_verify' -qc 'create database gc_bench_verify' >/dev/null
    run postgres "${PG_ADMIN%/*}/gc_bench_verify"
    psql "$PG_ADMIN" -qc 'drop database gc_bench_verify with (force)' >/dev/null
fi
