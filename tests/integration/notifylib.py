"""Local receivers for the notification tests (SPEC section 16): an HTTP
receiver on 127.0.0.1 whose paths behave as a test says (answer, fail for a
while, hang, refuse), and a tiny SMTP sink written on asyncio (smtpd is
gone from Python 3.12; no new package). Both record what reached them."""

import asyncio
import hashlib
import hmac
import http.server
import json
import os
import threading
import time

from pulse_test import ctl

BODY_MAX = 1 << 20


class Receiver:
    """HTTP on an ephemeral port. behave(path) -> (status, delay_s, text)
    decides each answer (text callable: a body of its chunks that does not
    end until the client hangs up); every request is recorded (path, headers, body,
    status answered), keyed by X-Pulse-Delivery too."""

    def __init__(self, behave):
        self.behave = behave
        self.lock = threading.Lock()
        self.records = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = min(int(self.headers.get('Content-Length') or 0),
                        BODY_MAX)
                body = self.rfile.read(n)
                status, delay, text = owner.behave(self.path)
                rec = {'path': self.path, 'headers': dict(self.headers),
                       'body': body, 'status': status, 't': time.time()}
                with owner.lock:
                    owner.records.append(rec)
                if delay:
                    time.sleep(delay)
                if callable(text):
                    self.stream(status, text)
                    return
                # bytes as they are: a receiver's answer need not be
                # UTF-8.
                data = text if isinstance(text, bytes) else text.encode()
                try:
                    self.send_response(status)
                    self.send_header('Content-Type', 'text/plain')
                    self.send_header('Content-Length', str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def stream(self, status, chunks):
                # An answer without a length, its body chunks() until
                # the client hangs up (or 60 s): a receiver that never
                # stops talking.
                self.close_connection = True
                end = time.time() + 60
                try:
                    self.send_response(status)
                    self.send_header('Content-Type', 'text/plain')
                    self.send_header('Connection', 'close')
                    self.end_headers()
                    while time.time() < end:
                        self.wfile.write(chunks())
                        self.wfile.flush()
                        time.sleep(0.01)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path):
        return 'http://127.0.0.1:%d%s' % (self.port, path)

    def on(self, prefix):
        with self.lock:
            return [r for r in self.records if r['path'].startswith(prefix)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def signature_ok(rec, secret):
    sig = rec['headers'].get('X-Pulse-Signature', '')
    want = 'sha256=' + hmac.new(secret.encode(), rec['body'],
                                hashlib.sha256).hexdigest()
    return hmac.compare_digest(sig, want)


class SmtpSink:
    """Enough SMTP for libcurl: EHLO/HELO, MAIL, RCPT, DATA, QUIT. Each
    message recorded as {'from', 'rcpt': [...], 'data': str}. starttls:
    EHLO offers STARTTLS and AUTH PLAIN, but STARTTLS is answered 454 (no
    TLS here): a client that insists on TLS gives up, one that does not
    goes on in clear. Every command line is kept in commands."""

    def __init__(self, starttls=False):
        self.messages = []
        self.commands = []
        self.starttls = starttls
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(asyncio.start_server(
                self.session, '127.0.0.1', 0))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    async def session(self, reader, writer):
        def say(line):
            writer.write((line + '\r\n').encode())

        say('220 sink ESMTP')
        mail = {'from': None, 'rcpt': [], 'data': ''}
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                cmd = line.decode('utf-8', 'replace').strip()
                up = cmd.upper()
                self.commands.append(up.split(' ')[0])
                if up.startswith('EHLO') and self.starttls:
                    say('250-sink')
                    say('250-STARTTLS')
                    say('250 AUTH PLAIN LOGIN')
                elif up == 'STARTTLS' and self.starttls:
                    say('454 TLS not available')
                elif up.startswith('AUTH') and self.starttls:
                    say('235 ok')
                elif up.startswith('EHLO') or up.startswith('HELO'):
                    say('250 sink')
                elif up.startswith('MAIL FROM:'):
                    mail = {'from': cmd[10:].strip(), 'rcpt': [], 'data': ''}
                    say('250 ok')
                elif up.startswith('RCPT TO:'):
                    mail['rcpt'].append(cmd[8:].strip())
                    say('250 ok')
                elif up == 'DATA':
                    say('354 go on')
                    await writer.drain()
                    data = b''
                    while not data.endswith(b'\r\n.\r\n'):
                        chunk = await reader.readline()
                        if not chunk or len(data) > BODY_MAX:
                            return
                        data += chunk
                    mail['data'] = data[:-5].decode('utf-8', 'replace')
                    self.messages.append(mail)
                    say('250 queued')
                elif up == 'QUIT':
                    say('221 bye')
                    await writer.drain()
                    break
                elif up in ('RSET', 'NOOP'):
                    say('250 ok')
                else:
                    say('502 no')
                await writer.drain()
        finally:
            writer.close()

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


def restart_pushd(env):
    """kill -9 pushd and start it again with env added (None removes)."""
    ctl('pushd-kill')
    start_pushd(env)


def start_pushd(env):
    """Start pushd with env added to this environment (None removes)."""
    saved = {k: os.environ.get(k) for k in env}
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = str(v)
    try:
        ctl('pushd-start')
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# What the notification tests run pushd with: retries from 200 ms, the
# attempt cut after 2 s (defaults 10 s and 15 s), so no test waits long.
FAST = {'PULSE_NOTIFY_BACKOFF_MS': '200', 'PULSE_NOTIFY_TIMEOUT_S': '2'}
DEFAULTS = {k: None for k in FAST}


def body_json(rec):
    return json.loads(rec['body'].decode())
