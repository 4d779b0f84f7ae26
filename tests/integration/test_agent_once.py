#!/usr/bin/env python3
"""A real pulse-worker never starts a command twice (DESIGN section 4,
README "The worker protocol"; issue 18 section 2).

The server here is this test: a small websocket server on 127.0.0.1
speaking the pulse-worker subprotocol (and answering the HTTP heartbeat),
not pushd, so it can send the same execute_command (same command_id)
whenever it likes. It drives the real agent ($PULSE_BIN/pulse-worker,
its own WORKER_STATE_DIR in a temporary directory, MAX_CONCURRENT_TASKS=1)
and resends commands:
  - while the command runs, and while another waits queued behind it;
  - after it finished, before result_ack: the agent sends the same
    result again instead of running it;
  - after result_ack: nothing runs and nothing is sent;
  - after the agent is killed (kill -9) and started again on the same
    state directory: for a command acknowledged before, one finished but
    not acknowledged (its result comes again, unasked, at the reconnect
    and again when asked), and one still running under its keeper (its
    result comes when it ends).
Every command appends its PULSE_COMMAND_ID to a ledger file: each id is
in it exactly once. Each check waits for a condition; a ping answered
with a pong marks that the agent handled everything sent before it, and
with one task at a time a last command finishing means every command
queued before it has run.
"""

import base64
import hashlib
import json
import os
import queue
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pulse_test  # noqa: E402
import wsclient  # noqa: E402
from pulse_test import check, diag, done, require, wait_for  # noqa: E402

BIN = os.environ.get('PULSE_BIN', '')
AGENT = os.path.join(BIN, 'pulse-worker')
require('PULSE_BIN has pulse-worker', BIN != '' and os.access(AGENT, os.X_OK),
        AGENT)
KEY = uuid.uuid4().hex
# The agent enrolls with KEY (the shared key) at its first start and gets
# OWN, its own key, which it sends (with its id) from then on.
OWN = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')
TMP = tempfile.mkdtemp(prefix='pulse-agent-once.')
STATE = os.path.join(TMP, 'state')
LEDGER = os.path.join(TMP, 'ledger')
EXEC_ID = str(uuid.uuid4())


class Peer(wsclient.WebSocket):
    """The agent's websocket as the server sees it: frames out unmasked,
    frames in masked (RFC 6455 section 5.1)."""

    def send_frame(self, opcode, payload, fin=True, mask=False, rsv=0):
        wsclient.WebSocket.send_frame(self, opcode, payload, fin, mask, rsv)

    def _read_frame(self, deadline):
        if not self._fill(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7f, 2
        if n == 126:
            if not self._fill(4, deadline):
                return None
            n, off = struct.unpack('!H', bytes(self.buf[2:4]))[0], 4
        elif n == 127:
            if not self._fill(10, deadline):
                return None
            n, off = struct.unpack('!Q', bytes(self.buf[2:10]))[0], 10
        if not b1 & 0x80:
            raise wsclient.WSError('the client did not mask a frame')
        if not self._fill(off + 4 + n, max(deadline, time.monotonic()) + 30):
            raise wsclient.WSError('frame of %d bytes never completed' % n)
        key = bytes(self.buf[off:off + 4])
        payload = wsclient._mask(bytes(self.buf[off + 4:off + 4 + n]), key)
        del self.buf[:off + 4 + n]
        return bool(b0 & 0x80), b0 & 0x0f, payload


class Server:
    """ws://127.0.0.1:PORT/worker (key, id and subprotocol checked),
    POST /api/workers/enroll (the shared key gets OWN) and POST
    /api/workers/heartbeat; each accepted websocket is put on .conns for
    the test to drive."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.conns = queue.Queue()
        self.heartbeats = 0
        self.enrolled = []      # the worker ids given out
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
            while b'\r\n\r\n' not in buf:
                d = c.recv(65536)
                if not d or len(buf) > 65536:
                    c.close()
                    return
                buf += d
            head, rest = buf.split(b'\r\n\r\n', 1)
            lines = head.decode('iso-8859-1').split('\r\n')
            method, path = lines[0].split(' ')[:2]
            h = {}
            for line in lines[1:]:
                if ':' in line:
                    k, v = line.split(':', 1)
                    h[k.strip().lower()] = v.strip()
            if h.get('upgrade', '').lower() == 'websocket':
                subs = [s.strip() for s in
                        h.get('sec-websocket-protocol', '').split(',')]
                if path != '/worker' or not self._own(h) or \
                        'pulse-worker' not in subs:
                    diag('refused an upgrade: %s %s' % (method, path))
                    c.sendall(b'HTTP/1.1 401 Unauthorized\r\n'
                              b'Content-Length: 0\r\n'
                              b'Connection: close\r\n\r\n')
                    c.close()
                    return
                accept = base64.b64encode(hashlib.sha1(
                    (h['sec-websocket-key'] + wsclient.GUID).encode()
                ).digest()).decode()
                c.sendall(('HTTP/1.1 101 Switching Protocols\r\n'
                           'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                           'Sec-WebSocket-Accept: %s\r\n'
                           'Sec-WebSocket-Protocol: pulse-worker\r\n\r\n'
                           % accept).encode())
                c.settimeout(None)
                self.conns.put(Session(Peer(c, rest)))
                return
            n = int(h.get('content-length', '0') or 0)
            while len(rest) < n:
                d = c.recv(65536)
                if not d:
                    break
                rest += d
            if method == 'POST' and path == '/api/workers/heartbeat' and \
                    self._own(h):
                self.heartbeats += 1
                status, body = '200 OK', b'{"status":"ok"}'
            elif method == 'POST' and path == '/api/workers/enroll' and \
                    h.get('x-api-key') == KEY:
                req = json.loads(rest[:n].decode())
                wid = req.get('worker_id') or str(uuid.uuid4())
                self.enrolled.append(wid)
                status, body = '201 Created', json.dumps({
                    'worker_id': wid, 'name': req['name'], 'key': OWN,
                    'state': 'accepted', 'groups': []}).encode()
            else:
                status, body = '404 Not Found', b'{"error":"not found"}'
            c.sendall(('HTTP/1.1 %s\r\nContent-Type: application/json\r\n'
                       'Content-Length: %d\r\nConnection: close\r\n\r\n'
                       % (status, len(body))).encode() + body)
            c.close()
        except (OSError, ValueError, KeyError) as e:
            diag('server: %s' % e)
            c.close()

    def _own(self, h):
        return h.get('x-api-key') == OWN and \
            h.get('x-worker-id') in self.enrolled

    def close(self):
        self.lsock.close()


class Session:
    """One connection of the agent: what it sent, in order, and sending."""

    def __init__(self, peer):
        self.peer = peer
        self.seen = []

    def send(self, msg):
        self.peer.send_json(msg)

    def wait(self, pred, timeout=60, since=0):
        """The first message from index `since` on with pred(), reading
        more as needed; None when the time runs out."""
        deadline = time.monotonic() + timeout
        i = since
        while True:
            while i < len(self.seen):
                if pred(self.seen[i]):
                    return self.seen[i]
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                m = self.peer.recv_json(min(left, 1.0))
            except (OSError, wsclient.WSError) as e:
                diag('agent connection: %s' % e)
                return None
            if m is not None:
                self.seen.append(m)

    def sync(self):
        """Ping; once the pong is here the agent has handled every
        message sent before. True if it came."""
        n = len(self.seen)
        self.send({'type': 'ping'})
        return self.wait(lambda m: m.get('type') == 'pong', 60,
                         since=n) is not None

    def count(self, type_, cid, since=0):
        return sum(1 for m in self.seen[since:] if m.get('type') == type_
                   and m.get('command_id') == cid)

    def result(self, cid, since=0, timeout=60):
        return self.wait(lambda m: m.get('type') == 'command_result' and
                         m.get('command_id') == cid, timeout, since)

    def close(self):
        self.peer.close()


server = Server()
agents = []


def start_agent(label):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('PULSE_', 'WORKER_'))}
    env.update({
        'PULSE_ENV_FILE': '',       # no .env but ours (none in TMP)
        'PULSE_SERVER': 'http://127.0.0.1:%d' % server.port,
        'PULSE_WS': 'ws://127.0.0.1:%d' % server.port,
        'WORKER_API_KEY': KEY,
        'WORKER_NAME': 'once-' + uuid.uuid4().hex[:8],
        'WORKER_STATE_DIR': STATE,
        'HEARTBEAT_INTERVAL': '5',
        'MAX_CONCURRENT_TASKS': '1',
    })
    log = open(os.path.join(TMP, 'agent-%d.log' % (len(agents) + 1)), 'wb')
    p = subprocess.Popen([AGENT], env=env, cwd=TMP, stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT)
    log.close()
    agents.append(p)
    diag('%s: pulse-worker pid %d' % (label, p.pid))
    try:
        s = server.conns.get(timeout=60)
    except queue.Empty:
        return p, None, None
    hello = s.wait(lambda m: m.get('type') == 'worker_connect', 60)
    return p, s, hello


def stop_agents():
    for p in agents:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def lines(cid):
    try:
        with open(LEDGER) as f:
            return sum(1 for line in f if line.strip() == cid)
    except FileNotFoundError:
        return 0


GO = {}


def command(name, blocked=False):
    """A command id and its command: append the id to the ledger, wait
    for its GO file when blocked, then print `name`."""
    cid = str(uuid.uuid4())
    sh = 'echo "$PULSE_COMMAND_ID" >> %s; ' % shlex.quote(LEDGER)
    if blocked:
        GO[cid] = os.path.join(TMP, 'go-' + name)
        sh += 'while [ ! -e %s ]; do sleep 0.05; done; ' % \
            shlex.quote(GO[cid])
    sh += 'echo %s' % name
    return cid, sh


def go(cid):
    open(GO[cid], 'w').close()


def execute(s, wid, cid, sh):
    s.send({'type': 'execute_command', 'command_id': cid,
            'execution_id': EXEC_ID, 'step_index': 0, 'attempt': 1,
            'command': sh, 'timeout': 120000, 'worker_id': wid})


def fence(s, wid, label):
    """A last command: with one task at a time, when its result is here
    every command queued before it has run and ended."""
    cid, sh = command('fence-' + label)
    execute(s, wid, cid, sh)
    r = s.result(cid, timeout=120)
    return cid, r is not None


def ok_result(r, out):
    return r is not None and r.get('exit_code') == 0 and \
        r.get('stdout') == out + '\n' and r.get('success') is True


def agent_log():
    for name in sorted(os.listdir(TMP)):
        if name.startswith('agent-'):
            with open(os.path.join(TMP, name), errors='replace') as f:
                diag('--- %s (last lines)\n%s' % (
                    name, ''.join(f.readlines()[-25:])))


def cleanup():
    """Whatever happened: no command waits for ever, no agent is left."""
    for path in GO.values():
        open(path, 'w').close()
    stop_agents()
    server.close()
    if pulse_test._failed:
        agent_log()
        diag('kept for a look: %s' % TMP)
    else:
        shutil.rmtree(TMP, ignore_errors=True)


try:
    # --- one agent: while running, queued, finished, acknowledged --------
    A1, s, hello = start_agent('first agent')
    require('the agent connects with the key and says worker_connect',
            s is not None and hello is not None and
            hello.get('running') == [], hello)
    WID = hello['worker_id']
    check('the agent answers its heartbeat at this server',
          wait_for(lambda: server.heartbeats > 0, 60, 0.2))

    C1, SH1 = command('one', blocked=True)
    C4, SH4 = command('four')
    execute(s, WID, C1, SH1)
    require('C1 starts', s.wait(lambda m: m.get('type') ==
                                'command_started' and
                                m.get('command_id') == C1, 60) is not None)
    require('C1 wrote its ledger line', wait_for(lambda: lines(C1) == 1,
                                                 60, 0.05))
    execute(s, WID, C4, SH4)            # queued behind C1 (one task)
    execute(s, WID, C1, SH1)            # C1 again while it runs, twice
    execute(s, WID, C1, SH1)
    execute(s, WID, C4, SH4)            # C4 again while it waits
    check('resent while running or queued: the agent handled them',
          s.sync())
    check('C4 has not started while C1 runs (it is queued)',
          s.count('command_started', C4) == 0 and lines(C4) == 0)
    go(C1)
    r1 = s.result(C1)
    check('C1 reports its result', ok_result(r1, 'one'), r1)
    r4 = s.result(C4)
    check('C4 runs once C1 ended and reports its result',
          ok_result(r4, 'four'), r4)
    F1, ok = fence(s, WID, '1')
    check('a later command ran after everything queued before it', ok)
    check('resent while running: C1 started once, ran once, one result',
          s.count('command_started', C1) == 1 and lines(C1) == 1 and
          s.count('command_result', C1) == 1,
          [s.count('command_started', C1), lines(C1),
           s.count('command_result', C1)])
    check('resent while queued: C4 started once, ran once, one result',
          s.count('command_started', C4) == 1 and lines(C4) == 1 and
          s.count('command_result', C4) == 1,
          [s.count('command_started', C4), lines(C4),
           s.count('command_result', C4)])

    # Finished, not yet acknowledged: the same result again, no new run.
    mark = len(s.seen)
    execute(s, WID, C1, SH1)
    again = s.result(C1, since=mark)
    check('resent after it finished, before result_ack: the same result '
          'is sent again', again == r1, again)
    F2, ok = fence(s, WID, '2')
    check('... and nothing ran again (ledger once, no command_started)',
          ok and lines(C1) == 1 and
          s.count('command_started', C1, since=mark) == 0)

    # Acknowledged: nothing at all.
    for cid in (C1, C4, F1, F2):
        s.send({'type': 'result_ack', 'command_id': cid})
    mark = len(s.seen)
    execute(s, WID, C1, SH1)
    execute(s, WID, C4, SH4)
    F3, ok = fence(s, WID, '3')
    check('resent after result_ack: nothing starts, runs or is reported',
          ok and lines(C1) == 1 and lines(C4) == 1 and
          s.count('command_started', C1, mark) == 0 and
          s.count('command_result', C1, mark) == 0 and
          s.count('command_started', C4, mark) == 0 and
          s.count('command_result', C4, mark) == 0,
          [x.get('type') + ' ' + str(x.get('command_id'))
           for x in s.seen[mark:]])
    s.send({'type': 'result_ack', 'command_id': F3})

    # --- kill -9 and a new agent on the same state directory -------------
    C2, SH2 = command('two')            # finished, never acknowledged
    execute(s, WID, C2, SH2)
    r2 = s.result(C2)
    check('C2 reports its result (left unacknowledged)',
          ok_result(r2, 'two'), r2)
    C3, SH3 = command('three', blocked=True)   # running at the kill
    execute(s, WID, C3, SH3)
    require('C3 runs', s.wait(lambda m: m.get('type') == 'command_started'
                              and m.get('command_id') == C3, 60) is not None
            and wait_for(lambda: lines(C3) == 1, 60, 0.05))
    A1.kill()
    A1.wait(30)
    s.close()
    diag('killed the first agent (SIGKILL) while C3 runs')

    A2, s, hello = start_agent('second agent')
    require('the restarted agent connects again with the same worker id',
            s is not None and hello is not None and
            hello.get('worker_id') == WID, hello)
    diag('its worker_connect lists as running: %s' % hello.get('running'))
    first = s.result(C2)
    check('after the restart the unacknowledged result of C2 is sent '
          'again, unasked', first == r2, first)
    mark = len(s.seen)
    for cid, sh in ((C1, SH1), (C2, SH2), (C3, SH3), (C4, SH4)):
        execute(s, WID, cid, sh)
    check('resent after the restart: the agent handled them', s.sync())
    again = s.result(C2, since=mark)
    check('C2 resent after the restart: its result again', again == r2,
          again)
    go(C3)
    r3 = s.result(C3, timeout=90)
    check('C3, running under its keeper through the restart, reports '
          'its own result when it ends', ok_result(r3, 'three'), r3)
    F4, ok = fence(s, WID, '4')
    check('a later command ran after everything queued before it', ok)
    check('after the restart nothing started again (no command_started '
          'for C1-C4)', all(s.count('command_started', c) == 0
                            for c in (C1, C2, C3, C4)),
          [x.get('type') + ' ' + str(x.get('command_id'))
           for x in s.seen])
    check('C1 and C4 (acknowledged before the kill): no result sent again',
          s.count('command_result', C1) == 0 and
          s.count('command_result', C4) == 0)
    check('C3 reported once', s.count('command_result', C3) == 1,
          s.count('command_result', C3))
    for cid in (C2, C3, F4):
        s.send({'type': 'result_ack', 'command_id': cid})
    check('the agent takes the acks (it still answers)', s.sync())

    A2.send_signal(signal.SIGTERM)
    try:
        rc = A2.wait(30)
    except subprocess.TimeoutExpired:
        rc = 'still running'
    check('the agent stops on SIGTERM with exit status 0', rc == 0, rc)
    bad = []
    for name in os.listdir(TMP):
        if name.startswith('agent-'):
            with open(os.path.join(TMP, name), errors='replace') as f:
                bad += [line.strip() for line in f if 'Sanitizer' in line]
    check('no sanitizer report in the agents\' logs', bad == [], bad[:5])
    check('enrolled once; the restarted agent used its stored key',
          server.enrolled == [WID], server.enrolled)

    ids = {'C1': C1, 'C2': C2, 'C3': C3, 'C4': C4, 'F1': F1, 'F2': F2,
           'F3': F3, 'F4': F4}
    with open(LEDGER) as f:
        ledger = [line.strip() for line in f if line.strip()]
    diag('ledger: %d lines for %d commands' % (len(ledger), len(ids)))
    check('the ledger holds every command exactly once',
          sorted(ledger) == sorted(ids.values()),
          {k: ledger.count(v) for k, v in ids.items()})
except Exception as e:
    check('no error in the test itself', False, repr(e))
finally:
    cleanup()
done()
