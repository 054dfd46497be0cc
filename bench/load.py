#!/usr/bin/python3
"""Latency load client for bench/run.sh.

The same shape of load as `smtp-source -s SESSIONS -m MESSAGES -l SIZE` (parallel sessions, one connection per
message, a SIZE-byte body), but every message is timed from the last byte of the end-of-data line
(<CRLF>.<CRLF>) to the 250 reply: the time a client waits for "your mail is on disk". smtp-source reports no
latencies; this gives one sample per message.

Writes {"messages", "seconds", "per_second", "samples", "p50_ms", "p99_ms", "max_ms", "errors"} as JSON.
Stdlib only, Debian's /usr/bin/python3.
"""
import argparse, asyncio, json, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--sessions", type=int, default=20)
parser.add_argument("--messages", type=int, default=4000)
parser.add_argument("--size", type=int, default=5120, help="body bytes per message")
parser.add_argument("--out", required=True)
args = parser.parse_args()

line = b"X" * 78 + b"\r\n"
body = (line * (args.size // len(line) + 1))[: args.size]
body = body[: body.rfind(b"\r\n") + 2]
MESSAGE = b"From: <load@bench.test>\r\nTo: <sink@bench.test>\r\nSubject: latency load\r\n\r\n" + body


async def reply(reader):
    """One complete reply (RFC 5321 4.2.1: 'ddd-' continues, 'ddd ' ends); returns its code."""
    while True:
        text = await reader.readline()
        if not text:
            raise ConnectionError("server closed the connection")
        if len(text) < 4 or text[3:4] != b"-":
            return int(text[:3])


async def command(reader, writer, text, expect):
    writer.write(text + b"\r\n")
    code = await reply(reader)
    if code != expect:
        raise RuntimeError("%r -> %d (expected %d)" % (text, code, expect))


async def one_message(samples):
    reader, writer = await asyncio.open_connection(args.host, args.port)
    try:
        if await reply(reader) != 220:
            raise RuntimeError("no 220 greeting")
        await command(reader, writer, b"EHLO load.bench.test", 250)
        await command(reader, writer, b"MAIL FROM:<load@bench.test>", 250)
        await command(reader, writer, b"RCPT TO:<sink@bench.test>", 250)
        await command(reader, writer, b"DATA", 354)
        writer.write(MESSAGE)
        await writer.drain()
        started = time.perf_counter()
        writer.write(b".\r\n")
        code = await reply(reader)
        elapsed = time.perf_counter() - started
        if code != 250:
            raise RuntimeError("end of data -> %d" % code)
        samples.append(elapsed)
        writer.write(b"QUIT\r\n")
        await reply(reader)
    finally:
        writer.close()


async def main():
    remaining = [args.messages]
    samples, errors = [], []

    async def session():
        while remaining[0] > 0:
            remaining[0] -= 1
            try:
                await asyncio.wait_for(one_message(samples), 120)
            except (OSError, RuntimeError, ConnectionError, asyncio.TimeoutError) as e:
                errors.append(str(e))

    started = time.perf_counter()
    await asyncio.gather(*(session() for _ in range(args.sessions)))
    seconds = time.perf_counter() - started
    samples.sort()

    def percentile(p):  # nearest rank
        if not samples:
            return None
        rank = max(1, -(-len(samples) * p // 100))
        return samples[int(rank) - 1] * 1000

    result = {"messages": args.messages, "seconds": seconds, "per_second": len(samples) / seconds,
              "samples": len(samples), "p50_ms": percentile(50), "p99_ms": percentile(99),
              "max_ms": samples[-1] * 1000 if samples else None, "errors": len(errors)}
    with open(args.out, "w") as f:
        json.dump(result, f)
    if errors:
        print("load: %d errors, first: %s" % (len(errors), errors[0]), file=sys.stderr)
        sys.exit(1)

asyncio.run(main())
