#!/usr/bin/env python3
"""A refused command's result is delivered at least once, like any other
(README "Allow-list", DESIGN section 4), and the command never runs.

The real agent ($PULSE_BIN/pulse-worker, WORKER_ALLOW_FILE with one rule,
its own WORKER_STATE_DIR) talks to a stand-in for pushd on 127.0.0.1
(this file: the pulse-worker subprotocol, and 200/201 to its HTTP calls)
that does not acknowledge the refusal at first:
  - the refused result comes at once: status refused, success false, no
    exit code, the reason in stderr; no command_started;
  - the connection drops: after the reconnect the agent sends the same
    result again, unasked, from its spool;
  - the same execute_command again: the same result again, still not run;
  - after result_ack, a reconnect brings nothing, the spool holds nothing
    and the journal of started commands never named it; the file the
    command would have created does not exist;
  - a seed-style execute_workflow whose second step is refused ends
    failed with the reason, that step not run.
"""

import base64
import hashlib
import http.server
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import wsclient  # noqa: E402
from pulse_test import at_end, check, diag, done, require  # noqa: E402

AGENT = os.path.join(os.environ.get('PULSE_BIN') or '/nonexistent',
                     'pulse-worker')
require('PULSE_BIN has pulse-worker', os.access(AGENT, os.X_OK), AGENT)
TMP = tempfile.mkdtemp(prefix='pulse-allow-resend.')
STATE = os.path.join(TMP, 'state')
ALLOW = os.path.join(TMP, 'allow.list')
RAN = os.path.join(TMP, 'ran')
KEY = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')
with open(ALLOW, 'w') as f:
    f.write('# only this\ntrue\n')
os.chmod(ALLOW, 0o644)


class Stub(http.server.BaseHTTPRequestHandler):
    """ws://127.0.0.1:PORT/worker and the HTTP calls of an agent. Each
    websocket goes on SOCKS as the server end of it; its thread holds the
    connection until the test lets it go (Conn.drop)."""

    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.headers.get('Upgrade', '').lower() != 'websocket':
            self.reply(404, {'error': 'not found'})
            return
        digest = hashlib.sha1((self.headers['Sec-WebSocket-Key'] +
                               wsclient.GUID).encode()).digest()
        self.send_response(101)
        self.send_header('Upgrade', 'websocket')
        self.send_header('Connection', 'Upgrade')
        self.send_header('Sec-WebSocket-Accept',
                         base64.b64encode(digest).decode())
        self.send_header('Sec-WebSocket-Protocol', 'pulse-worker')
        self.end_headers()
        gone = threading.Event()
        SOCKS.put((wsclient.WebSocket(self.connection, b'', 'pulse-worker',
                                      server=True), gone))
        gone.wait()
        self.close_connection = True

    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        req = json.loads(self.rfile.read(n) or b'{}')
        if self.path == '/api/workers/enroll':
            # The contract's answer, for agents that enroll first.
            self.reply(201, {
                'worker_id': req.get('worker_id') or str(uuid.uuid4()),
                'name': req.get('name'), 'key': KEY, 'state': 'accepted',
                'groups': []})
        else:
            self.reply(200, {'status': 'ok'})


class Conn:
    """One connection of the agent, with everything it sent on it."""

    def __init__(self, ws, gone):
        self.ws = ws
        self.gone = gone
        self.seen = []

    def drop(self):
        """The connection drops, as a network would drop it."""
        self.ws.sock.shutdown(socket.SHUT_RDWR)
        self.gone.set()

    def wait(self, pred, timeout=60, since=0):
        """The first message from index since on with pred(), reading
        more as needed; None when the time runs out."""
        for m in self.seen[since:]:
            if pred(m):
                return m
        try:
            m, more = self.ws.recv_until(pred, timeout)
        except (OSError, wsclient.WSError) as e:
            diag('agent connection: %s' % e)
            return None
        self.seen += more
        return m

    def sync(self):
        """Ping, wait for the pong: the agent handled what came before."""
        n = len(self.seen)
        self.ws.send_json({'type': 'ping'})
        return self.wait(lambda m: m.get('type') == 'pong',
                         since=n) is not None

    def of(self, type_, cid):
        return [m for m in self.seen if m.get('type') == type_ and
                m.get('command_id') == cid]


SOCKS = queue.Queue()
stub = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Stub)
stub.daemon_threads = True
threading.Thread(target=stub.serve_forever, daemon=True).start()
env = {
    'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOME': TMP,
    'PULSE_SERVER': 'http://127.0.0.1:%d' % stub.server_address[1],
    'WORKER_API_KEY': KEY,
    'WORKER_NAME': 'allow-' + uuid.uuid4().hex[:8],
    'WORKER_STATE_DIR': STATE,
    'WORKER_ALLOW_FILE': ALLOW,
    'HEARTBEAT_INTERVAL': '5',
    'ASAN_OPTIONS': os.environ.get('ASAN_OPTIONS', ''),
    'UBSAN_OPTIONS': os.environ.get('UBSAN_OPTIONS', ''),
}
LOG = os.path.join(TMP, 'agent.log')
with open(LOG, 'wb') as logf:
    agent = subprocess.Popen([AGENT], env=env, cwd=TMP,
                             stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=subprocess.STDOUT)


def connection():
    try:
        c = Conn(*SOCKS.get(timeout=60))
    except queue.Empty:
        return None, None
    return c, c.wait(lambda m: m.get('type') == 'worker_connect')


def result_of(c, cid):
    return c.wait(lambda m: m.get('type') == 'command_result' and
                  m.get('command_id') == cid)


try:
    c, hello = connection()
    require('the agent connects and says worker_connect', hello is not None)
    wid = hello['worker_id']
    cid = str(uuid.uuid4())
    cmd = {'type': 'execute_command', 'command_id': cid,
           'execution_id': str(uuid.uuid4()), 'step_index': 0,
           'attempt': 1, 'command': 'touch %s' % RAN, 'timeout': 60000,
           'worker_id': wid}
    reason = 'refused by WORKER_ALLOW_FILE (%s): no rule matches' % ALLOW

    c.ws.send_json(cmd)
    r1 = result_of(c, cid)
    check('refused at once: status refused, success false, no exit code, '
          'the reason in stderr',
          r1 is not None and r1.get('status') == 'refused' and
          r1.get('success') is False and r1.get('exit_code') is None and
          r1.get('stderr') == reason and r1.get('worker_id') == wid, r1)
    check('no command_started for it', c.sync() and
          c.of('command_started', cid) == [])
    check('its result waits in the spool until acknowledged',
          os.path.exists(os.path.join(STATE, 'spool', cid + '.json')))

    c.drop()                            # no ack
    c, hello = connection()
    require('the agent reconnects', hello is not None)
    again = result_of(c, cid)
    check('after the reconnect the same refused result comes again, '
          'unasked', again == r1, again)

    c.ws.send_json(cmd)                 # the same command once more
    check('the same command again: the agent handled it', c.sync())
    check('... answered with the same result, not run',
          len(c.of('command_result', cid)) == 2 and
          c.of('command_result', cid)[1] == r1 and
          c.of('command_started', cid) == [], c.of('command_result', cid))

    c.ws.send_json({'type': 'result_ack', 'command_id': cid})
    check('acknowledged: the spool lets it go', c.sync() and
          not os.path.exists(os.path.join(STATE, 'spool', cid + '.json')))
    c.drop()
    c, hello = connection()
    require('the agent reconnects once more', hello is not None)
    check('after result_ack a reconnect brings nothing for it',
          c.sync() and c.of('command_result', cid) == [], c.seen)

    # A seed-style execute_workflow: its steps meet the same list.
    eid = str(uuid.uuid4())
    c.ws.send_json({'type': 'execute_workflow', 'execution_id': eid,
                    'workflow': {'name': 'wf', 'steps': [
                        {'name': 'ok', 'type': 'execute', 'command': 'true'},
                        {'name': 'bad', 'type': 'execute',
                         'command': 'touch %s' % RAN}]}})
    wr = c.wait(lambda m: m.get('type') == 'workflow_result' and
                m.get('execution_id') == eid)
    check('execute_workflow: the allowed step runs, the refused one ends '
          'it failed, saying why',
          wr is not None and wr.get('success') is False and
          wr.get('message') == 'step 1 (bad) ' + reason, wr)

    try:
        with open(os.path.join(STATE, 'started')) as f:
            journal = f.read()
    except FileNotFoundError:
        journal = ''
    check('the journal of started commands never named it',
          cid not in journal)
    check('the command never ran: its file does not exist',
          not os.path.exists(RAN))
    with open(LOG, errors='replace') as f:
        log = f.read()
    check('the agent logged the refusal once',
          log.count('command %s: %s' % (cid, reason)) == 1, log[-1500:])
finally:
    if agent.poll() is None:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(20)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(10)
    stub.shutdown()

check('the agent stops cleanly on SIGTERM', agent.returncode == 0,
      agent.returncode)
at_end(lambda: shutil.rmtree(TMP, ignore_errors=True))
done()
