#!/usr/bin/env python3
"""A real pulse-worker never follows a redirect with its key.

Its PULSE_SERVER and PULSE_WS point at a listener of this test (A) that
answers the enrollment (twice, then 201 with the worker's own key), the
heartbeat and the websocket upgrade with 301, 302, 303, 307 and 308 to a
second listener (B) or to another path of A. B must never see a request
(let alone X-API-Key, shared or own), A never the redirected path; the
agent logs each refusal with the Location and never a key, and keeps
trying A on its normal schedule."""

import base64
import http.server
import json
import os
import threading
import uuid

import seclib  # noqa: F401 (puts tests/integration on sys.path)
from pulse_test import check, ctl, diag, done, require, wait_for

STACK = os.environ.get('PULSE_STACK', '')
CODES = (302, 307, 301, 308, 303)


class Recorder(http.server.ThreadingHTTPServer):
    """An HTTP listener on 127.0.0.1 that notes every request."""
    daemon_threads = True

    def __init__(self, answer):
        self.answer = answer		# (server, handler) -> None
        self.seen = []			# (method, path, headers dict)
        self.lock = threading.Lock()
        super().__init__(('127.0.0.1', 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]

    def requests(self, path=None):
        with self.lock:
            return [s for s in self.seen if path is None or s[1] == path]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def handle_one(self):
        n = int(self.headers.get('Content-Length') or 0)
        if 0 < n <= 1 << 20:
            self.rfile.read(n)
        with self.server.lock:
            self.server.seen.append((self.command, self.path,
                                     {k.lower(): v for k, v in
                                      self.headers.items()}))
        try:
            self.server.answer(self.server, self)
        except OSError:
            pass	# the agent hung up first: it refused the answer

    do_GET = do_POST = do_PUT = handle_one


def redirector(target):
    """Answers the n-th request to a path with CODES[n % 5]: even ones to
    B (another host:port), odd ones to a path of A itself; the third
    enrollment is answered 201 with OWN."""
    counts = {}

    def answer(server, h):
        with server.lock:
            n = counts.get(h.path, 0)
            counts[h.path] = n + 1
        if h.path == ENROLL and n >= 2:
            body = json.dumps({'worker_id': WID, 'name': name, 'key': OWN,
                               'state': 'accepted', 'groups': []}).encode()
            h.send_response(201)
            h.send_header('Content-Type', 'application/json')
            h.send_header('Content-Length', str(len(body)))
            h.send_header('Connection', 'close')
            h.end_headers()
            h.wfile.write(body)
            h.close_connection = True
            return
        if n % 2 == 0:
            loc = 'http://127.0.0.1:%d%s' % (target.port, h.path)
        else:
            loc = '/redirected' + h.path
        h.send_response(CODES[n % len(CODES)])
        h.send_header('Location', loc)
        h.send_header('Content-Length', '0')
        h.send_header('Connection', 'close')
        h.end_headers()
        h.close_connection = True
    return answer


def sink(server, h):
    h.send_response(200)
    h.send_header('Content-Type', 'application/json')
    h.send_header('Content-Length', '2')
    h.send_header('Connection', 'close')
    h.end_headers()
    h.wfile.write(b'{}')
    h.close_connection = True


HB = '/api/workers/heartbeat'
ENROLL = '/api/workers/enroll'
WID = str(uuid.uuid4())
OWN = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')


def enough():
    # Three of each: the first refusals and the retries after them.
    return len(a.requests(HB)) >= 3 and len(a.requests('/worker')) >= 3


def read_log():
    try:
        with open(log, encoding='utf-8', errors='replace') as f:
            return f.read()
    except OSError:
        return ''


def logged():
    text = read_log()
    return ('http://127.0.0.1:%d%s' % (b.port, ENROLL) in text and
            'http://127.0.0.1:%d%s' % (b.port, HB) in text and
            'http://127.0.0.1:%d/worker' % b.port in text)


def gone(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


b = Recorder(sink)
a = Recorder(redirector(b))
name = 'redirect-%s' % uuid.uuid4().hex[:8]
key = 'redirect-test-key-%s' % uuid.uuid4().hex
log = os.path.join(STACK, 'log', 'worker-%s.log' % name)
ctl('worker-start', name, '',
    'PULSE_SERVER=http://127.0.0.1:%d' % a.port,
    'PULSE_WS=ws://127.0.0.1:%d/worker' % a.port,
    'WORKER_API_KEY=' + key, 'HEARTBEAT_INTERVAL=1')
pid = int(ctl('worker-pid', name).split()[0])
try:
    check('the agent keeps asking A for the heartbeat and the websocket',
          wait_for(enough, 90, 0.2), [(m, p) for m, p, _ in a.requests()])
    hb = a.requests(HB)
    ws = a.requests('/worker')
    en = a.requests(ENROLL)
    check('it enrolled at A after two refused redirects', len(en) == 3,
          len(en))
    check('A got the shared key on enrollment, the own key and id on '
          'its other paths (the configured server)',
          all(h.get('x-api-key') == key for _, _, h in en) and
          hb and ws and all(h.get('x-api-key') == OWN and
                            h.get('x-worker-id') == WID
                            for _, _, h in hb + ws))
    check('the websocket requests are upgrades',
          all(h.get('upgrade', '').lower() == 'websocket'
              for _, _, h in ws))
    check('B (the redirect target) never got a request',
          b.requests() == [], [(m, p) for m, p, _ in b.requests()])
    check('nothing carried the key to B',
          all('x-api-key' not in h for _, _, h in b.requests()))
    check('A never got the redirected paths',
          not [p for _, p, _ in a.requests() if p.startswith('/redirected')],
          [p for _, p, _ in a.requests()])
    check('the agent logs both refusals with their Location',
          wait_for(logged, 30, 0.2), read_log()[-3000:])
    check('the log never holds a key', key not in read_log() and
          OWN not in read_log())
    check('the agent is still running', not gone(pid))

    # More attempts keep coming on the normal schedule, none goes to B.
    before = len(a.requests('/worker'))
    check('it retries the websocket with backoff',
          wait_for(lambda: len(a.requests('/worker')) > before, 60, 0.2))
    check('still nothing at B', b.requests() == [],
          [(m, p) for m, p, _ in b.requests()])
    diag('A: %d heartbeats, %d upgrades; B: %d requests' % (
        len(a.requests(HB)), len(a.requests('/worker')),
        len(b.requests())))
finally:
    ctl('worker-stop', name)
    a.shutdown()
    b.shutdown()
check('the agent stopped', wait_for(lambda: gone(pid), 30, 0.2))
done()
