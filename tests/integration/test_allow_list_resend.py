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

BIN = os.environ.get('PULSE_BIN', '')
AGENT = os.path.join(BIN, 'pulse-worker')
require('PULSE_BIN has pulse-worker', BIN != '' and os.access(AGENT, os.X_OK),
        AGENT)
TMP = tempfile.mkdtemp(prefix='pulse-allow-resend.')
STATE = os.path.join(TMP, 'state')
ALLOW = os.path.join(TMP, 'allow.list')
RAN = os.path.join(TMP, 'ran')
KEY = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')
with open(ALLOW, 'w') as f:
    f.write('# only this\ntrue\n')
os.chmod(ALLOW, 0o644)


class Stub:
    """ws://127.0.0.1:PORT/worker and the HTTP calls of an agent; each
    websocket goes on .socks, the server end of it."""

    def __init__(self):
        self.lsock = socket.create_server(('127.0.0.1', 0))
        self.port = self.lsock.getsockname()[1]
        self.socks = queue.Queue()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(30)
            buf = b''
            while b'\r\n\r\n' not in buf and len(buf) < 65536:
                d = c.recv(65536)
                if not d:
                    break
                buf += d
            head, _, rest = buf.partition(b'\r\n\r\n')
            lines = head.decode('iso-8859-1').split('\r\n')
            method, path = (lines[0].split(' ') + ['', ''])[:2]
            hdr = dict((k.strip().lower(), v.strip()) for k, _, v in
                       (x.partition(':') for x in lines[1:]))
            if hdr.get('upgrade', '').lower() == 'websocket':
                acc = base64.b64encode(hashlib.sha1(
                    (hdr['sec-websocket-key'] + wsclient.GUID).encode()
                ).digest()).decode()
                c.sendall(('HTTP/1.1 101 Switching Protocols\r\n'
                           'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                           'Sec-WebSocket-Accept: %s\r\n'
                           'Sec-WebSocket-Protocol: pulse-worker\r\n\r\n'
                           % acc).encode())
                c.settimeout(None)
                self.socks.put(wsclient.WebSocket(c, rest, 'pulse-worker',
                                                  server=True))
                return
            n = int(hdr.get('content-length') or 0)
            while len(rest) < n:
                d = c.recv(65536)
                if not d:
                    break
                rest += d
            status, body = '200 OK', {'status': 'ok'}
            if method == 'POST' and path == '/api/workers/enroll':
                # The contract's answer, for agents that enroll first.
                req = json.loads(rest or b'{}')
                status, body = '201 Created', {
                    'worker_id': req.get('worker_id') or str(uuid.uuid4()),
                    'name': req.get('name'), 'key': KEY,
                    'state': 'accepted', 'groups': []}
            data = json.dumps(body).encode()
            c.sendall(('HTTP/1.1 %s\r\nContent-Type: application/json\r\n'
                       'Content-Length: %d\r\nConnection: close\r\n\r\n'
                       % (status, len(data))).encode() + data)
        except (OSError, ValueError, KeyError) as e:
            diag('stub: %s' % e)
        c.close()


class Conn:
    """One connection of the agent, with everything it sent on it."""

    def __init__(self, ws):
        self.ws = ws
        self.seen = []

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


stub = Stub()
env = {
    'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOME': TMP,
    'PULSE_SERVER': 'http://127.0.0.1:%d' % stub.port,
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
        c = Conn(stub.socks.get(timeout=60))
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

    c.ws.sock.close()                   # the connection drops, no ack
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
    c.ws.sock.close()
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
    stub.lsock.close()

check('the agent stops cleanly on SIGTERM', agent.returncode == 0,
      agent.returncode)
at_end(lambda: shutil.rmtree(TMP, ignore_errors=True))
done()
