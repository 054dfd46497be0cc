#!/usr/bin/env bash
# EdgeMail benchmark (issue 2): bench/run.sh BINARY   — normally called by `./build.sh bench`.
#
# Passes, each on a fresh spool on the real disk (artifacts/bench/<run>/), the server on a free loopback port:
#   1. throughput  smtp-source, SESSIONS parallel sessions, MESSAGES messages of SIZE bytes, one connection per
#                  message (what an appliance does); a latency probe (bench/probe.py) runs alongside as one more
#                  session and times end-of-data → 250. Peak RSS (VmHWM) and disk writes (/proc/PID/io) of the server.
#                  Then, on the same server, bench/load.py sends the same load and times every message (p50/p99).
#   2. fsync       the same load with the server under `strace -f -c`: fsync/fdatasync calls per message.
#   3. big         BIG_SESSIONS concurrent messages of BIG_SIZE bytes: peak RSS.
#   4. postfix     Debian's Postfix as the yardstick: a private instance (own config, queue and data directories)
#                  on a free loopback port, relaying everything to smtp-sink; the same load, probe and load.py.
#   5. relay       (issue 3) end to end: the same smtp-source load (no probe), every message relayed to smtp-sink;
#                  timed from smtp-source's start until the server's queue folders are empty and smtp-sink has
#                  counted every message (bench/drain.py polls both). First the Postfix instance of pass 4, once
#                  it has drained pass 4's load; then EdgeMail with `--relay smtp://127.0.0.1:PORT` on a fresh
#                  spool, with its peak RSS while accepting and relaying.
# Results go into BENCHMARKS.md, newest run first. The script installs nothing; it checks its tools and stops
# every process it started, whatever happens.
set -euo pipefail

usage() { echo "usage: bench/run.sh PATH/TO/edgemail" >&2; exit 2; }
[ $# -eq 1 ] || usage
BIN=$(readlink -f "$1")
[ -x "$BIN" ] || { echo "bench: $1 is not an executable" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
MESSAGES=${BENCH_MESSAGES:-4000}
SESSIONS=${BENCH_SESSIONS:-20}
SIZE=${BENCH_SIZE:-5120}
BIG_SESSIONS=${BENCH_BIG_SESSIONS:-20}
BIG_SIZE=${BENCH_BIG_SIZE:-10485760}
DRAIN_TIMEOUT=${BENCH_DRAIN_TIMEOUT:-600}    # seconds pass 5 waits for a queue to empty before it gives up
REPORT=${BENCH_REPORT:-$ROOT/BENCHMARKS.md}
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
WORK=$ROOT/artifacts/bench/$RUN_ID

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

for tool in /usr/sbin/smtp-source /usr/sbin/smtp-sink /usr/sbin/postfix /usr/sbin/postconf "$PY" /usr/bin/strace; do
  [ -x "$tool" ] || die "$tool is missing (./build.sh bench installs postfix, python3 and strace)"
done
getent passwd postfix >/dev/null || die "the postfix user is missing (install Debian's postfix package)"
[ "$(id -u)" -eq 0 ] || die "Postfix's master must start as root: run as root"

mkdir -p "$WORK"
say "work directory $WORK"
# Other work on the machine (builds, tests) distorts every number below: the report shows how busy it was.
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- process bookkeeping: everything we start is stopped on exit ----------------------------------------
STARTED=()          # PIDs of our own background processes that have not been reaped yet
POSTFIX_DIR=""      # set while the private Postfix instance may be running
cleanup() {
  local pid
  set +e
  if [ -n "$POSTFIX_DIR" ]; then
    /usr/sbin/postfix -c "$POSTFIX_DIR/etc" stop >/dev/null 2>&1 || /usr/sbin/postfix -c "$POSTFIX_DIR/etc" abort >/dev/null 2>&1
    POSTFIX_DIR=""
  fi
  for pid in "${STARTED[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null
    timeout 10 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null
  done
  STARTED=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# forget PID: it has been waited for, so its number may be reused by someone else's process: never signal it again.
forget() {
  local p keep=()
  for p in "${STARTED[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  STARTED=("${keep[@]}")
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# stop PID: SIGTERM and wait for it (bounded), then SIGKILL.
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  timeout 30 tail --pid="$pid" -f /dev/null || { say "pid $pid ignored SIGTERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}

# start_edgemail DIR [WRAPPER...]: serve on a free port with its spool in DIR/spool; sets EM_PID (the process we
# started: edgemail itself, or the wrapper) and EM_PORT. Start-up is awaited on the "listening on" line, read
# from a FIFO: no polling. EM_ARGS (an array, normally empty) adds serve options, e.g. --relay.
EM_ARGS=()
start_edgemail() {
  local dir=$1; shift
  mkdir -p "$dir"
  mkfifo "$dir/stdout"
  "$@" "$BIN" serve --listen 127.0.0.1:0 --spool "$dir/spool" --config "$WORK/edgemail.toml" ${EM_ARGS[@]+"${EM_ARGS[@]}"} \
    >"$dir/stdout" 2>"$dir/stderr" &
  EM_PID=$!
  STARTED+=("$EM_PID")
  exec {EM_FD}<"$dir/stdout"
  local line=""
  read -r -t 120 line <&"$EM_FD" || true
  [[ $line =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]] || { cat "$dir/stderr" >&2; die "edgemail did not start (stdout: '$line')"; }
  EM_PORT=${BASH_REMATCH[1]}
}

# The edgemail process itself: the wrapper's (strace's) child when there is one.
server_pid() {
  local pid=$1 child
  child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}')
  echo "${child:-$pid}"
}

vm_hwm_kib() { awk '/^VmHWM:/{print $2}' "/proc/$1/status"; }
write_bytes() { awk '/^write_bytes:/{print $2}' "/proc/$1/io"; }

# load PORT DIR COUNT SESSIONS LENGTH [probe]: smtp-source against PORT; sets LOAD_T0 (its start, date +%s.%N) and
# LOAD_SECONDS. With "probe", the
# latency probe runs for as long as smtp-source does and leaves DIR/latency.json.
load() {
  local port=$1 dir=$2 count=$3 sessions=$4 length=$5 probe=${6:-} t0 t1 src probe_pid=""
  t0=$(date +%s.%N)
  /usr/sbin/smtp-source -s "$sessions" -m "$count" -l "$length" -M bench.test -f load@bench.test -t sink@bench.test \
    "127.0.0.1:$port" >"$dir/smtp-source.log" 2>&1 &
  src=$!
  STARTED+=("$src")
  if [ -n "$probe" ]; then
    "$PY" "$ROOT/bench/probe.py" --port "$port" --size "$length" --out "$dir/latency.json" 2>"$dir/probe.log" &
    probe_pid=$!
    STARTED+=("$probe_pid")
  fi
  local rc=0
  wait "$src" || rc=$?
  t1=$(date +%s.%N)
  forget "$src"
  [ -n "$probe_pid" ] && stop_pid "$probe_pid"
  [ "$rc" -eq 0 ] || { cat "$dir/smtp-source.log" >&2; die "smtp-source failed (exit $rc) against port $port"; }
  LOAD_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
  LOAD_T0=$t0
}

# start_drain OUT EXPECT SINK_LOG PID QUEUE_DIR...: bench/drain.py in the background (DRAIN_PID), until SINK_LOG's
# smtp-sink has counted EXPECT messages and the QUEUE_DIRs are empty; PID's VmHWM goes into OUT ("" = none).
start_drain() {
  local out=$1 expect=$2 sink_log=$3 pid=$4 q queues=(); shift 4
  for q in "$@"; do queues+=(--queue "$q"); done
  "$PY" "$ROOT/bench/drain.py" "${queues[@]}" --sink-log "$sink_log" --expect "$expect" ${pid:+--pid "$pid"} \
    --timeout "$DRAIN_TIMEOUT" --out "$out" 2>"$out.log" &
  DRAIN_PID=$!
  STARTED+=("$DRAIN_PID")
}
# finish_drain OUT: waits for drain.py; sets DRAINED (1 = drained, 0 = it gave up: no progress or --timeout, a
# result for the report, not a failure of the script) and DRAINED_AT (wall clock, comparable with LOAD_T0).
finish_drain() {
  local out=$1 rc=0
  wait "$DRAIN_PID" || rc=$?
  forget "$DRAIN_PID"
  case $rc in
    0) DRAINED=1 ;;
    3) DRAINED=0; say "$(cat "$out.log")" ;;
    *) cat "$out.log" >&2; die "bench/drain.py failed (exit $rc)" ;;
  esac
  DRAINED_AT=$(json_field "$out" drained_at)
}
json_field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# relay_result OUT EXPECT BASE ACCEPT_SECONDS: after finish_drain, the report's cell for one server (RELAY_CELL)
# and its messages/s end to end (RELAY_MPS; 0 when the queue did not drain).
relay_result() {
  local out=$1 expect=$2 base=$3 accept=$4 counted seconds
  counted=$(( $(json_field "$out" messages) - base ))
  seconds=$(awk -v a="$LOAD_T0" -v b="$DRAINED_AT" 'BEGIN{printf "%.3f", b-a}')
  if [ "$DRAINED" -eq 1 ]; then
    RELAY_MPS=$(awk -v n="$expect" -v s="$seconds" 'BEGIN{printf "%.0f", n/s}')
    RELAY_CELL="$RELAY_MPS msg/s ($seconds s; accepted in $accept s)"
    # More than sent: something was delivered twice (or a bounce went upstream); the rate stands, the note says so.
    [ "$counted" -eq "$expect" ] || RELAY_CELL+="; smtp-sink counted $counted"
  else
    RELAY_MPS=0
    RELAY_CELL="**did not drain**: smtp-sink counted $counted of $expect, $(json_field "$out" queued) still queued after $seconds s"
  fi
}

# latency_load PORT DIR: bench/load.py with the smtp-source load's shape; leaves DIR/load.json.
latency_load() {
  local pid rc=0
  "$PY" "$ROOT/bench/load.py" --port "$1" --sessions "$SESSIONS" --messages "$MESSAGES" --size "$SIZE" \
    --out "$2/load.json" 2>"$2/load.log" &
  pid=$!
  STARTED+=("$pid")
  wait "$pid" || rc=$?
  forget "$pid"
  [ "$rc" -eq 0 ] || { cat "$2/load.log" >&2; die "bench/load.py failed (exit $rc) against port $1"; }
}

queued_count() { "$BIN" queue --spool "$1" --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
latency() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); v=d[sys.argv[2]]; print("n/a" if v is None else (f"{v:.2f}" if isinstance(v,float) else v))' "$1" "$2"; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }

# Passes 1-3 measure accepting into the spool, so the relay must stay idle: serve relays whatever it queues, and
# with no upstream it would look up bench.test's MX and bounce or defer (writing retry records: more fsyncs,
# messages leaving the queue the passes count). Its upstream is a "parked" port instead: a socket that listens
# and never accepts, so the kernel completes the relay's few connections (2 per route by default) and the client
# waits for a 220 greeting that never comes, for far longer than these passes last (RFC 5321 §4.5.3.2: 5 minutes)
# and with nothing written. Pass 5 replaces it with --relay to smtp-sink.
PARKED_PORT=$(free_port)
"$PY" -c 'import signal, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); signal.pause()' "$PARKED_PORT" &
STARTED+=("$!")

# EdgeMail's config for the benchmark: 20 load sessions and the probe all come from 127.0.0.1.
cat >"$WORK/edgemail.toml" <<EOF
[server]
max_connections = 200
max_connections_per_client = 200

[relay]
upstream = ["smtp://127.0.0.1:$PARKED_PORT"]
EOF

# ---- 1. throughput, latency, RSS, disk writes -----------------------------------------------------------
say "pass 1: EdgeMail, $SESSIONS sessions × $MESSAGES messages of $SIZE bytes (+ latency probe)"
D1=$WORK/edgemail
start_edgemail "$D1"
PID1=$(server_pid "$EM_PID")
W0=$(write_bytes "$PID1")
load "$EM_PORT" "$D1" "$MESSAGES" "$SESSIONS" "$SIZE" probe
EM_SECONDS=$LOAD_SECONDS
EM_RSS=$(vm_hwm_kib "$PID1")
EM_WRITTEN=$(( $(write_bytes "$PID1") - W0 ))
EM_PROBE=$(latency "$D1/latency.json" samples)
# smtp-source's messages plus the probe's: the disk writes are shared by all of them.
EM_WRITTEN_FOR=$((MESSAGES + EM_PROBE))
latency_load "$EM_PORT" "$D1"
stop_pid "$EM_PID"; exec {EM_FD}<&-
EM_QUEUED=$(queued_count "$D1/spool")
[ "$EM_QUEUED" -ge $((2 * MESSAGES + EM_PROBE)) ] \
  || die "EdgeMail acknowledged $((2 * MESSAGES + EM_PROBE)) messages but its queue lists $EM_QUEUED"
EM_MPS=$(awk -v n="$MESSAGES" -v s="$EM_SECONDS" 'BEGIN{printf "%.0f", n/s}')
EM_WPM=$(awk -v w="$EM_WRITTEN" -v n="$EM_WRITTEN_FOR" 'BEGIN{printf "%.0f", w/n}')
say "EdgeMail: $EM_MPS msg/s, p50 $(latency "$D1/latency.json" p50_ms) ms, peak RSS $(mib "$EM_RSS") MiB"

# ---- 2. fsync calls per message ---------------------------------------------------------------------------
say "pass 2: EdgeMail under strace -f -c (fsync/fdatasync per message)"
D2=$WORK/edgemail-strace
start_edgemail "$D2" /usr/bin/strace -f -c -e trace=fsync,fdatasync,syncfs,sync_file_range -o "$D2/strace.txt"
load "$EM_PORT" "$D2" "$MESSAGES" "$SESSIONS" "$SIZE"
stop_pid "$(server_pid "$EM_PID")"
wait "$EM_PID" 2>/dev/null || true    # strace writes its summary as the traced server exits
forget "$EM_PID"
exec {EM_FD}<&-
# strace -c columns: % time, seconds, usecs/call, calls, [errors,] syscall.
SYNCS=$(awk '$NF=="fsync"||$NF=="fdatasync"||$NF=="syncfs"||$NF=="sync_file_range"{ n += $4 } END{print n+0}' "$D2/strace.txt")
FSYNC_PM=$(awk -v s="$SYNCS" -v n="$MESSAGES" 'BEGIN{printf "%.2f", s/n}')
say "fsync-family calls: $SYNCS for $MESSAGES messages"

# ---- 3. peak RSS with big concurrent messages -----------------------------------------------------------------
say "pass 3: EdgeMail, $BIG_SESSIONS concurrent messages of $BIG_SIZE bytes"
D3=$WORK/edgemail-big
start_edgemail "$D3"
PID3=$(server_pid "$EM_PID")
load "$EM_PORT" "$D3" "$BIG_SESSIONS" "$BIG_SESSIONS" "$BIG_SIZE"
BIG_SECONDS=$LOAD_SECONDS
BIG_RSS=$(vm_hwm_kib "$PID3")
stop_pid "$EM_PID"; exec {EM_FD}<&-
BIG_QUEUED=$(queued_count "$D3/spool")
[ "$BIG_QUEUED" -eq "$BIG_SESSIONS" ] || die "EdgeMail acknowledged $BIG_SESSIONS big messages but lists $BIG_QUEUED"
rm -rf "$D3/spool"    # 200 MiB of filler; the logs stay

# ---- 4. the yardstick: a private Postfix relaying to smtp-sink ------------------------------------------------
say "pass 4: Postfix $(/usr/sbin/postconf -d -h mail_version) (private instance) → smtp-sink"
PF=$WORK/postfix
mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
chown postfix "$PF/data"    # the master's lock and the daemons' caches; post-install sets up the queue itself
SINK_PORT=$(free_port)
PF_PORT=$(free_port)
# smtp-sink drops root after binding (-u); 256 is its listen backlog; -c keeps a message counter on its stdout
# (pass 5 reads it).
/usr/sbin/smtp-sink -c -u postfix "127.0.0.1:$SINK_PORT" 256 >"$PF/smtp-sink.log" 2>&1 &
STARTED+=("$!")
cat >"$PF/etc/main.cf" <<EOF
# Private benchmark instance: own config, queue and data directories; loopback only; relays all to smtp-sink.
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$SINK_PORT
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
maillog_file = $PF/postfix.log
maillog_file_prefixes = $PF
biff = no
EOF
cat >"$PF/etc/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n - n 60  1 pickup
cleanup   unix  n - n -   0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -   - trivial-rewrite
bounce    unix  - - n -   0 bounce
defer     unix  - - n -   0 bounce
trace     unix  - - n -   0 bounce
verify    unix  - - n -   1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -   - proxymap
smtp      unix  - - n -   - smtp
relay     unix  - - n -   - smtp
showq     unix  n - n -   - showq
error     unix  - - n -   - error
retry     unix  - - n -   - error
discard   unix  - - n -   - discard
anvil     unix  - - n -   1 anvil
scache    unix  - - n -   1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
POSTFIX_DIR=$PF
/usr/sbin/postfix -c "$PF/etc" start >"$PF/start.log" 2>&1 || { cat "$PF/start.log" >&2; die "the private Postfix did not start"; }
PF_MASTER=$(awk '{print $1}' "$PF/queue/pid/master.pid")
# The master writes its pid file before its listeners are set up; a connection proves smtpd is answering.
"$PY" -c 'import smtplib,sys; s=smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60); s.quit()' "$PF_PORT" \
  || die "the private Postfix does not answer on 127.0.0.1:$PF_PORT (log: $PF/postfix.log)"
load "$PF_PORT" "$PF" "$MESSAGES" "$SESSIONS" "$SIZE" probe
PF_SECONDS=$LOAD_SECONDS
latency_load "$PF_PORT" "$PF"
PF_MPS=$(awk -v n="$MESSAGES" -v s="$PF_SECONDS" 'BEGIN{printf "%.0f", n/s}')
RATIO=$(awk -v a="$EM_MPS" -v b="$PF_MPS" 'BEGIN{printf "%.2f", a/b}')
say "Postfix: $PF_MPS msg/s; EdgeMail/Postfix = $RATIO"

# ---- 5. relay (issue 3): accepted and relayed to smtp-sink until the queue is empty ---------------------------
# Postfix's queue folders (deferred/ is hashed, hence drain.py walks them); maildrop/ is where postdrop would put
# local submissions: none here, counted for completeness.
PF_QUEUES=("$PF/queue/maildrop" "$PF/queue/incoming" "$PF/queue/active" "$PF/queue/deferred" "$PF/queue/hold")
# Let the instance finish relaying pass 4's messages (smtp-source's, the probe's, load.py's) so pass 5 starts from
# an empty queue and its own count at the sink is known. Every one of them was acknowledged, so it is in a queue
# folder (cleanup writes it before smtpd's 250) until the sink has counted it: an empty queue is enough here.
start_drain "$PF/drain-before.json" 0 "$PF/smtp-sink.log" "" "${PF_QUEUES[@]}"
finish_drain "$PF/drain-before.json"
[ "$DRAINED" -eq 1 ] || die "Postfix did not relay pass 4's messages (log: $PF/postfix.log)"
PF_BASE=$(json_field "$PF/drain-before.json" messages)

say "pass 5: relay end to end, $SESSIONS sessions × $MESSAGES messages → smtp-sink, until the queue is empty"
D5P=$PF/relay
mkdir -p "$D5P"
start_drain "$D5P/drain.json" $((PF_BASE + MESSAGES)) "$PF/smtp-sink.log" "" "${PF_QUEUES[@]}"
load "$PF_PORT" "$D5P" "$MESSAGES" "$SESSIONS" "$SIZE"
finish_drain "$D5P/drain.json"
relay_result "$D5P/drain.json" "$MESSAGES" "$PF_BASE" "$LOAD_SECONDS"
PF_RELAY_MPS=$RELAY_MPS PF_RELAY_CELL=$RELAY_CELL
/usr/sbin/postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
timeout 60 tail --pid="$PF_MASTER" -f /dev/null || /usr/sbin/postfix -c "$PF/etc" abort >/dev/null 2>&1 || true
POSTFIX_DIR=""
say "Postfix relay: $PF_RELAY_CELL"

# EdgeMail: its own smtp-sink (a fresh counter), plain smtp:// (STARTTLS only when offered; smtp-sink offers none).
D5=$WORK/edgemail-relay
mkdir -p "$D5"
RELAY_SINK_PORT=$(free_port)
/usr/sbin/smtp-sink -c -u postfix "127.0.0.1:$RELAY_SINK_PORT" 256 >"$D5/smtp-sink.log" 2>&1 &
STARTED+=("$!")
EM_ARGS=(--relay "smtp://127.0.0.1:$RELAY_SINK_PORT")
start_edgemail "$D5"
EM_ARGS=()
PID5=$(server_pid "$EM_PID")
# Only SPOOL/queue: a message stays there until every recipient has a final outcome (hold/ is for held
# messages, none here; tmp/ holds messages not yet acknowledged).
start_drain "$D5/drain.json" "$MESSAGES" "$D5/smtp-sink.log" "$PID5" "$D5/spool/queue"
load "$EM_PORT" "$D5" "$MESSAGES" "$SESSIONS" "$SIZE"
finish_drain "$D5/drain.json"
relay_result "$D5/drain.json" "$MESSAGES" 0 "$LOAD_SECONDS"
EM_RELAY_MPS=$RELAY_MPS EM_RELAY_CELL=$RELAY_CELL
EM_RELAY_RSS=$(json_field "$D5/drain.json" peak_rss_kib)
stop_pid "$EM_PID"; exec {EM_FD}<&-
# The cross-check by the CLI: a drained queue lists nothing.
EM_LEFT=$(queued_count "$D5/spool")
[ "$DRAINED" -eq 0 ] || [ "$EM_LEFT" -eq 0 ] || die "EdgeMail's queue lists $EM_LEFT messages after its queue/ folder emptied"
RELAY_RATIO=$(awk -v a="$EM_RELAY_MPS" -v b="$PF_RELAY_MPS" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }')
say "EdgeMail relay: $EM_RELAY_CELL, peak RSS $(mib "$EM_RELAY_RSS") MiB; EdgeMail/Postfix = $RELAY_RATIO"

cleanup
# The spools are filler (the counts were checked above); logs, strace and latency data stay in $WORK.
rm -rf "$D1/spool" "$D2/spool" "$D5/spool" "$PF/queue"

# ---- report ---------------------------------------------------------------------------------------------------
size_of() { [ -e "$1" ] && stat -c %s "$1" || echo ""; }
# The binary under test, and the other target's artifact when it has been published (BENCH_ARM64/BENCH_X64 name
# others, e.g. binaries published outside artifacts/).
SIZES="$(uname -m) (tested): $(size_of "$BIN") B"
for rid in linux-x64 linux-arm64; do
  case $rid in linux-x64) f=${BENCH_X64:-$ROOT/artifacts/$rid/edgemail} ;; *) f=${BENCH_ARM64:-$ROOT/artifacts/$rid/edgemail} ;; esac
  [ -e "$f" ] && [ "$(readlink -f "$f")" != "$BIN" ] && SIZES+="; $rid: $(size_of "$f") B (artifact published $(date -u -r "$f" "+%H:%M UTC"))"
done
DISK_DEV=$(df --output=source "$WORK" | tail -1)
DISK_FS=$(df --output=fstype "$WORK" | tail -1)
DISK_NAME=$(basename "$(readlink -f "$DISK_DEV")" | sed 's/[0-9]*$//')
ROTA=$(cat "/sys/block/$DISK_NAME/queue/rotational" 2>/dev/null || echo "?")
MODEL=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
check() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN{ ok = (op == ">=") ? a >= b : a <= b; print ok ? "yes" : "**no**" }'; }

SECTION=$(mktemp)
cat >"$SECTION" <<EOF
## $(date -u '+%Y-%m-%d %H:%M UTC') — $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no git")

Machine: $(nproc) × $MODEL, $(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r);
binary \`edgemail --version\` = $("$BIN" --version 2>/dev/null | head -1);
load average (1/5/15 min) at the start $LOADAVG_START, at the end $(cut -d' ' -f1-3 /proc/loadavg);
spool on $DISK_DEV ($DISK_FS, rotational=$ROTA). Load: smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE (one connection per message).

| Metric | EdgeMail | Postfix $(/usr/sbin/postconf -d -h mail_version) | Target | Met |
|---|---|---|---|---|
| Throughput, $SESSIONS sessions × $MESSAGES × $SIZE B | $EM_MPS msg/s ($EM_SECONDS s) | $PF_MPS msg/s ($PF_SECONDS s) | ≥ Postfix (aim 2×): ratio **$RATIO** | $(check "$RATIO" ">=" 1) |
| Time to 250, p50 / p99: load.py, $SESSIONS sessions × $MESSAGES (n = $(latency "$D1/load.json" samples) / $(latency "$PF/load.json" samples)) | $(latency "$D1/load.json" p50_ms) / $(latency "$D1/load.json" p99_ms) ms ($(latency "$D1/load.json" per_second | cut -d. -f1) msg/s) | $(latency "$PF/load.json" p50_ms) / $(latency "$PF/load.json" p99_ms) ms ($(latency "$PF/load.json" per_second | cut -d. -f1) msg/s) | — | |
| Time to 250, p50 / p99: probe beside smtp-source (n = $EM_PROBE / $(latency "$PF/latency.json" samples)) | $(latency "$D1/latency.json" p50_ms) / $(latency "$D1/latency.json" p99_ms) ms | $(latency "$PF/latency.json" p50_ms) / $(latency "$PF/latency.json" p99_ms) ms | — | |
| Peak RSS (VmHWM) under that load | $(mib "$EM_RSS") MiB | — | ≤ 24 MiB | $(check "$EM_RSS" "<=" $((24 * 1024))) |
| Peak RSS, $BIG_SESSIONS concurrent × $((BIG_SIZE / 1048576)) MiB | $(mib "$BIG_RSS") MiB ($BIG_SECONDS s) | — | ≤ 48 MiB | $(check "$BIG_RSS" "<=" $((48 * 1024))) |
| fsync-family calls per message (strace pass) | $FSYNC_PM ($SYNCS calls) | — | — | |
| Bytes written to disk per message (/proc/PID/io) | $EM_WPM B ($EM_WRITTEN_FOR messages) | — | — | |
| Relay end to end: accepted and relayed to smtp-sink until the queue is empty, $SESSIONS sessions × $MESSAGES × $SIZE B | $EM_RELAY_CELL | $PF_RELAY_CELL | ≥ Postfix: ratio **$RELAY_RATIO** | $([ "$RELAY_RATIO" = n/a ] && echo "**no**" || check "$RELAY_RATIO" ">=" 1) |
| Peak RSS (VmHWM) while accepting and relaying | $(mib "$EM_RELAY_RSS") MiB | — | — | |
| Binary size | $SIZES | — | ≤ 10 MiB each | $(check "$(size_of "$BIN")" "<=" $((10 * 1024 * 1024))) |

EOF
if [ ! -e "$REPORT" ]; then
  die "$REPORT is missing (it carries the method and the runs marker)"
fi
grep -q '^<!-- runs: newest first -->$' "$REPORT" || die "$REPORT lacks the line '<!-- runs: newest first -->'"
awk -v section="$SECTION" '{ print } /^<!-- runs: newest first -->$/ { print ""; while ((getline l < section) > 0) print l }' \
  "$REPORT" >"$REPORT.new" && mv "$REPORT.new" "$REPORT"
rm -f "$SECTION"
say "results written to $REPORT (raw data in $WORK)"
