#!/usr/bin/env bash
# Speed of the console on a large register (SQLite): a household search by a member's name, by
# the ID number's last four, and a household's page, each as p99 and requests/s with wrk,
# signed in as the office; /healthz in the same run for scale. Medians of ROUNDS rounds.
#
#   bench/console.sh                        # 100,000 households, 3 rounds of 10 s, 4 connections
#   HOUSEHOLDS=20000 DURATION=5s bench/console.sh
#
# Needs wrk (Debian package `wrk`), curl and python3. Traffic goes to 127.0.0.1 only. Filling
# 100,000 households takes a few minutes (each file is its own durable transaction).
set -euo pipefail
trap 'echo "bench/console.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
HOUSEHOLDS=${HOUSEHOLDS:-100000}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-4}
ROUNDS=${ROUNDS:-3}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/greenchannel
WORK=$(mktemp -d)
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DB="sqlite:$WORK/console.db"
BASE="http://127.0.0.1:$PORT"

start=$(date +%s)
"$BIN" --database "$DB" demo --households "$HOUSEHOLDS" > "$WORK/demo.txt"
echo "filled $HOUSEHOLDS households in $(( $(date +%s) - start )) s"
password=$(awk '$1=="office"{print $3}' "$WORK/demo.txt")

RUST_LOG=warn "$BIN" --database "$DB" serve --listen "127.0.0.1:$PORT" --keys-dir "$WORK/keys" >> "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 200); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done

# Sign in as a browser does: the sign-in page's cookie and token, then the form.
curl -sf -c "$WORK/jar" "$BASE/" > "$WORK/sign-in.html"
csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$WORK/sign-in.html" | head -1)
curl -sf -b "$WORK/jar" -c "$WORK/jar" -o /dev/null \
    --data-urlencode "name=demo-office" --data-urlencode "password=$password" --data-urlencode "csrf=$csrf" "$BASE/login"
SESSION=$(awk '$6=="gc_session"{print $7}' "$WORK/jar")
[ -n "$SESSION" ] || { echo "sign-in failed" >&2; exit 1; }

# p99 in ms and requests/s of one wrk run.
measure() {
    local out=$WORK/$1-$2.txt
    if [ "$1" = healthz ]; then
        wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$BASE/healthz" > "$out"
    else
        KIND=$1 SESSION=$SESSION HOUSEHOLDS=$HOUSEHOLDS wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/console.lua "$BASE" > "$out"
    fi
    if grep -q "Non-2xx" "$out"; then echo "errors in $1: $(grep Non-2xx "$out")" >&2; exit 1; fi
    python3 - "$out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
print(f"{ms(*p99.groups()):.2f} {float(rps.group(1)):.0f}")
PY
}

declare -A P99 RPS
for round in $(seq "$ROUNDS"); do
    for kind in healthz name last4 file; do
        read -r p r < <(measure "$kind" "$round")
        P99[$kind]+="$p "; RPS[$kind]+="$r "
        echo "round $round $kind: p99 ${p} ms, ${r} req/s"
    done
done
median() { python3 -c 'import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))' $1; }
echo
echo "median of $ROUNDS rounds, $HOUSEHOLDS households, $CONNS connections:"
printf "%-8s %10s %10s\n" page "p99 ms" "req/s"
for kind in healthz name last4 file; do
    printf "%-8s %10s %10s\n" "$kind" "$(median "${P99[$kind]}")" "$(median "${RPS[$kind]}")"
done
