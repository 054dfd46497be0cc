#!/usr/bin/python3
"""A real upstream for the client tests: aiosmtpd (Debian python3-aiosmtpd, written by nobody here) on
127.0.0.1, the port chosen by the kernel and printed as "PORT n". STARTTLS (required) and AUTH PLAIN/LOGIN
when a certificate and a user are given. Each message is written to DIR/N.eml (the bytes received, after
dot-unstuffing) and DIR/N.env (sender, recipients, MAIL parameters, tls/plain, authenticated user) before the
250 is sent, so a test that saw the 250 can read them. Stops when stdin closes."""
import argparse
import asyncio
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--user")
p.add_argument("--password")
p.add_argument("--reject", action="append", default=[])
args = p.parse_args()


class Handler:
    def __init__(self):
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in args.reject:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(args.dir, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        user = session.auth_data.login.decode() if session.authenticated and isinstance(session.auth_data, LoginPassword) else "-"
        with open(base + ".env", "w") as f:
            f.write(envelope.mail_from + "\n")
            f.write(" ".join(envelope.rcpt_tos) + "\n")
            f.write(" ".join(envelope.mail_options) + "\n")
            f.write(("tls" if session.ssl else "plain") + " " + user + "\n")
        return "250 2.0.0 OK queued as %d" % self.count


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == args.user
          and auth_data.password.decode() == args.password)
    # handled=False: aiosmtpd then answers 535 itself (AuthResult defaults to "already answered").
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


async def main():
    ctx = None
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
    handler = Handler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="upstream.test", tls_context=ctx, require_starttls=ctx is not None,
                     authenticator=authenticator if args.user else None, auth_require_tls=True,
                     enable_SMTPUTF8=True, decode_data=False),
        "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
