#!/usr/bin/python3
"""A test upstream on aiosmtpd (Debian python3-aiosmtpd), bound to 127.0.0.1 port 0.

Usage: upstream.py MODE OUTDIR [CERT KEY]
Prints "PORT" (and for xoauth2 "PORT TOKENPORT") on stdout, then serves until stdin closes.
Every accepted message is written to OUTDIR/N.eml (the DATA bytes as received) with its envelope in
OUTDIR/N.env ("MAIL FROM" line then one RCPT per line), and the file is complete before the 250 goes out.

Modes:
  plain      accepts everything
  starttls   STARTTLS required (CERT/KEY), AUTH PLAIN/LOGIN user "relay" password "pw" required
  tempfail   the first DATA gets 451 4.3.0, later ones 250
  reject     RCPT for any local part starting with "nobody" gets 550 5.1.1
  drop       the first message: the connection is closed after DATA instead of an answer
  xoauth2    STARTTLS (CERT/KEY) + AUTH XOAUTH2 checking the bearer token from a local token endpoint
"""
import asyncio, base64, http.server, json, os, ssl, sys, threading, urllib.parse

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

mode, outdir = sys.argv[1], sys.argv[2]
cert = sys.argv[3] if len(sys.argv) > 3 else None
key = sys.argv[4] if len(sys.argv) > 4 else None
ACCESS_TOKEN = "ya29.test-access-token"
REFRESH_TOKEN = "1//test-refresh-token"
state = {"n": 0, "data": 0}


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if mode == "reject" and address.split("@")[0].startswith("nobody"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        state["data"] += 1
        if mode == "tempfail" and state["data"] == 1:
            return "451 4.3.0 try again later"
        if mode == "drop" and state["data"] == 1:
            session.loop.call_soon(server.transport.close)
            server.transport.abort()
            return "250 never sent"
        state["n"] += 1
        base = os.path.join(outdir, str(state["n"]))
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".env", "w") as f:
            f.write(envelope.mail_from + "\n" + "\n".join(envelope.rcpt_tos) + "\n")
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 Ok: queued as T%d" % state["n"]

    async def auth_XOAUTH2(self, server, args):
        # RFC-less but documented by Google: base64("user=" u "\x01auth=Bearer " token "\x01\x01").
        if len(args) < 2:
            return AuthResult(success=False, handled=False)
        try:
            decoded = base64.b64decode(args[1]).decode()
        except Exception:
            return AuthResult(success=False, handled=False)
        fields = dict(p.split("=", 1) for p in decoded.split("\x01") if "=" in p)
        ok = fields.get("user") == "bob@example.test" and fields.get("auth") == "Bearer " + ACCESS_TOKEN
        return AuthResult(success=ok, handled=False)


def password_ok(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=isinstance(auth_data, LoginPassword)
                      and auth_data.login == b"relay" and auth_data.password == b"pw")


class TokenEndpoint(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        form = urllib.parse.parse_qs(body)
        if form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == [REFRESH_TOKEN] \
                and form.get("client_id") == ["edge-client"]:
            answer, code = {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}, 200
        else:
            answer, code = {"error": "invalid_grant"}, 400
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


async def main():
    loop = asyncio.get_running_loop()
    handler = Handler()
    kwargs = {"hostname": "upstream.test"}
    if mode in ("starttls", "xoauth2"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kwargs.update(tls_context=ctx, require_starttls=True, auth_require_tls=True, auth_required=True)
        if mode == "starttls":
            kwargs["authenticator"] = password_ok
        else:
            kwargs["auth_exclude_mechanism"] = ["LOGIN", "PLAIN"]
    server = await loop.create_server(lambda: SMTP(handler, **kwargs), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    line = str(port)
    if mode == "xoauth2":
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        line += " " + str(httpd.server_address[1])
    print(line, flush=True)
    # Serve until the test closes our stdin (or kills us).
    await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
