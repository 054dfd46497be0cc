#!/usr/bin/python3
"""Drain watcher for bench/run.sh's relay pass (issue 3).

Started together with smtp-source. Polls, every --interval seconds, two things nobody in the relay path controls:
  - the number of files in the server's queue folders (EdgeMail: SPOOL/queue, a flat folder where a message stays
    until every recipient has a final outcome; Postfix: QUEUE/{maildrop,incoming,active,deferred,hold}, walked
    because deferred/ is hashed), and
  - smtp-sink's message counter: `smtp-sink -c` rewrites "... mesg=N" on its stdout after every "." it accepts.
Done when smtp-sink has counted --expect messages and the queue folders are empty (a message delivered is counted
by the sink before the server deletes its queue file, so both are needed for "the queue is empty"). smtp-source
must have finished too: before its first message the queue is empty as well, which is why the sink count gates.

Gives up (exit 3) when neither the sink's count nor the queue's changes for --stall seconds: a relay that does not
deliver (or waits minutes for a retry) is reported as such instead of holding the run for --timeout.
Writes {"drained_at", "messages", "queued", "max_queue", "peak_rss_kib", "polls", "timed_out", "stalled"} as
JSON; drained_at is time.time() (wall clock, comparable with `date +%s.%N` in the script); peak_rss_kib is --pid's
VmHWM at the end. Stdlib only, Debian's /usr/bin/python3.
"""
import argparse, json, os, re, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--queue", action="append", required=True, help="a queue folder to count files in (repeatable)")
parser.add_argument("--sink-log", required=True, help="smtp-sink -c's stdout")
parser.add_argument("--expect", type=int, required=True, help="messages the sink must count")
parser.add_argument("--pid", type=int, help="server process whose VmHWM to report")
parser.add_argument("--interval", type=float, default=0.01)
parser.add_argument("--timeout", type=float, default=600)
parser.add_argument("--stall", type=float, default=30, help="seconds without progress before giving up")
parser.add_argument("--out", required=True)
args = parser.parse_args()

MESG = re.compile(rb"mesg=(\d+)")


def queued():
    n = 0
    for top in args.queue:
        for _, _, files in os.walk(top):
            n += len(files)
    return n


def sink_count():
    # The counter line is rewritten in place with "\r": only the tail of the file matters.
    try:
        with open(args.sink_log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256))
            found = MESG.findall(f.read())
            return int(found[-1]) if found else 0
    except FileNotFoundError:
        return 0


def status_kib(field):
    if args.pid is None:
        return None
    try:
        with open("/proc/%d/status" % args.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


now = time.monotonic()
deadline, last_change, last = now + args.timeout, now, None
polls, max_queue, timed_out, stalled = 0, 0, False, False
while True:
    polls += 1
    count = sink_count()
    q = queued()
    max_queue = max(max_queue, q)
    now = time.monotonic()
    if (count, q) != last:
        last, last_change = (count, q), now
    if count >= args.expect and q == 0:
        break
    if now > deadline:
        timed_out = True
        break
    if now - last_change > args.stall:
        stalled = True
        break
    time.sleep(args.interval)
drained_at = time.time()

result = {"drained_at": drained_at, "messages": sink_count(), "queued": q, "max_queue": max_queue,
          "peak_rss_kib": status_kib("VmHWM"), "polls": polls, "timed_out": timed_out, "stalled": stalled}
with open(args.out, "w") as f:
    json.dump(result, f)
if timed_out or stalled:
    print("drain: %s: sink counted %d of %d, %d files queued"
          % ("timed out after %.0f s" % args.timeout if timed_out else "no progress for %.0f s" % args.stall,
             result["messages"], args.expect, q), file=sys.stderr)
    sys.exit(3)
