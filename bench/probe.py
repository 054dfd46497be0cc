#!/usr/bin/python3
"""Latency probe for bench/run.sh.

smtp-source reports no latencies, so while it loads the server this probe runs one more session that
sends messages of the same size back to back and times each one from the last byte of the end-of-data
line (<CRLF>.<CRLF>) to the 250 reply: the time a client waits for "your mail is on disk".

It runs until SIGTERM, then writes {"samples", "p50_ms", "p99_ms", "max_ms", "errors"} as JSON.
Stdlib only, Debian's /usr/bin/python3.
"""
import argparse, json, signal, socket, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--size", type=int, default=5120, help="body bytes per message")
parser.add_argument("--out", required=True)
args = parser.parse_args()

stop = False
def on_term(signum, frame):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

sock = socket.create_connection((args.host, args.port), timeout=60)
# Without TCP_NODELAY the end-of-data line, written right after the body, waits for the server's delayed ACK
# (Nagle): every sample would carry ~40 ms of the client's own making.
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
reader = sock.makefile("rb")

def reply():
    """One complete reply (RFC 5321 4.2.1: 'ddd-' continues, 'ddd ' ends); returns its code."""
    while True:
        line = reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])

def command(text, expect):
    sock.sendall(text + b"\r\n")
    code = reply()
    if code != expect:
        raise RuntimeError("%r -> %d (expected %d)" % (text, code, expect))

line = b"X" * 78 + b"\r\n"
body = (line * (args.size // len(line) + 1))[: args.size]
body = body[: body.rfind(b"\r\n") + 2] if b"\r\n" in body else body + b"\r\n"
message = b"From: <probe@bench.test>\r\nTo: <sink@bench.test>\r\nSubject: latency probe\r\n\r\n" + body

samples, errors = [], 0
try:
    if reply() != 220:
        raise RuntimeError("no 220 greeting")
    command(b"EHLO probe.bench.test", 250)
    while not stop:
        command(b"MAIL FROM:<probe@bench.test>", 250)
        command(b"RCPT TO:<sink@bench.test>", 250)
        command(b"DATA", 354)
        sock.sendall(message)
        started = time.perf_counter()
        sock.sendall(b".\r\n")
        code = reply()
        elapsed = time.perf_counter() - started
        if code == 250:
            samples.append(elapsed)
        else:
            errors += 1
except (OSError, RuntimeError, ConnectionError) as e:
    if not stop:
        print("probe: %s" % e, file=sys.stderr)
        errors += 1
finally:
    try:
        sock.sendall(b"QUIT\r\n")
        sock.close()
    except OSError:
        pass

def percentile(sorted_values, p):
    # nearest-rank percentile
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1] * 1000

samples.sort()
result = {"samples": len(samples), "p50_ms": percentile(samples, 50), "p99_ms": percentile(samples, 99),
          "max_ms": samples[-1] * 1000 if samples else None, "errors": errors}
with open(args.out, "w") as f:
    json.dump(result, f)
