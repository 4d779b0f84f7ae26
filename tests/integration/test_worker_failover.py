#!/usr/bin/env python3
"""A real pulse-worker with a list of control hosts fails over between them
(issue 19, README "Several control hosts"), on one normal stack: the other
hosts of its lists are loopback ports this test holds (dead: bound, not
listening, so every connect is refused; silent: listening, accepting and
never answering).

  (a) PULSE_SERVER = dead,real: it enrolls through the second entry, its
      websocket switches to the second URL, it comes online and runs a
      command; the log says "switching to" and "connected to" that URL.
  (a2) PULSE_WS = silent,real: the silent host takes the connection and
      never answers the upgrade; the agent leaves it for the next URL.
  (a3) PULSE_WS = mute,real: the mute host completes the upgrade and never
      says a word (a pushd that does not answer worker_connect): after the
      10 s hello timeout the agent leaves it for the next URL.
  (b) PULSE_SERVER = real,dead: nginx of the stack is killed (by PID, -9,
      with its workers) while a command runs; the agent keeps switching
      between the two and backing off; the command finishes during the
      outage; nginx is started again; the agent reconnects, sends the
      spooled result, and it is recorded once (one run, one dispatch, one
      completed event).
  (c) bad lists are refused at start, with the variable and the entry in
      the message, before anything is written to the state directory.
"""

import base64
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from live import execute, online, pid_alive, run, wait_execution, \
    wait_step  # noqa: E402
from pulse_test import (at_end, call, check, ctl, diag, done,  # noqa: E402
                        find_worker, have_ctl, require, sql, unique,
                        wait_for)

STACK = os.environ.get('PULSE_STACK', '')
BIN = os.environ.get('PULSE_BIN', '')
require('PULSE_STACK, PULSE_BIN and PULSE_CTL are set',
        STACK != '' and BIN != '' and have_ctl())
with open(os.path.join(STACK, 'port')) as f:
    PORT = int(f.read().strip())
REAL = 'http://127.0.0.1:%d' % PORT
REAL_WS = 'ws://127.0.0.1:%d/worker' % PORT
GROUP = unique('wfo')


def dead_port():
    """A loopback port bound by this process and never listened on:
    connects to it are refused, and nobody else can take it meanwhile."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    return s, s.getsockname()[1]


class Silent(threading.Thread):
    """Listens, accepts and never says a word (a host whose pushd hangs);
    upgrade=True: answers the websocket upgrade, then says nothing."""

    def __init__(self, upgrade=False):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.upgrade = upgrade
        self.held, self.accepted = [], 0

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.held.append(c)
            if self.upgrade:
                try:
                    self.switch(c)
                except OSError:
                    pass

    @staticmethod
    def switch(c):
        c.settimeout(5)
        req = b''
        while b'\r\n\r\n' not in req and len(req) < 65536:
            d = c.recv(4096)
            if not d:
                return
            req += d
        key = b''
        for line in req.split(b'\r\n'):
            if line.lower().startswith(b'sec-websocket-key:'):
                key = line.split(b':', 1)[1].strip()
        acc = base64.b64encode(hashlib.sha1(
            key + b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest())
        c.sendall(b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket'
                  b'\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' +
                  acc + b'\r\nSec-WebSocket-Protocol: pulse-worker\r\n\r\n')


DEAD_SOCK, DEAD = dead_port()
DEAD_HTTP = 'http://127.0.0.1:%d' % DEAD
DEAD_WS = 'ws://127.0.0.1:%d/worker' % DEAD


def log_path(name):
    return os.path.join(STACK, 'log', 'worker-%s.log' % name)


def read_log(name):
    try:
        with open(log_path(name), errors='replace') as f:
            return f.read()
    except OSError:
        return ''


def forget(name):
    """Stop it and delete its row at the end (whatever the outcome)."""
    def cleanup():
        try:
            ctl('worker-stop', name)
        except Exception as ex:
            diag('worker-stop %s: %s' % (name, ex))
        w = find_worker(name)
        if w:
            call('DELETE', '/api/workers/' + w['id'])
    at_end(cleanup)


def one_command(name, label, cmd, timeout_ms=60000):
    e = run([execute(label, cmd, targets=(name,), timeout=timeout_ms)],
            prefix='wfo')
    return e


def stdout_of(e):
    ds = e['steps'][0].get('dispatches') or []
    return ds[0].get('stdout', '') if len(ds) == 1 else None


# --- (a) a dead first entry -------------------------------------------------
A = unique('wfo-a')
forget(A)
ctl('worker-start', A, GROUP, 'PULSE_SERVER=%s,%s' % (DEAD_HTTP, REAL))
w = online(A, 60)
log = read_log(A)
require('(a) a worker whose first PULSE_SERVER entry is dead comes online',
        w is not None, log[-2000:])
check('(a) it enrolled through the second entry after the first did not '
      'answer', 'enrollment at %s/api/workers/enroll' % DEAD_HTTP in log and
      'trying the next URL' in log and 'enrolled: worker id' in log,
      log[-2000:])
check('(a) its websocket switched from the dead URL to the real one',
      re.search(r'websocket %s: [^\n]*; switching to %s in \d+\.\d s' %
                (re.escape(DEAD_WS), re.escape(REAL_WS)), log) is not None,
      log[-2000:])
check('(a) the log says "connected to" the real URL, never the dead one',
      'websocket: connected to %s' % REAL_WS in log and
      'connected to %s' % DEAD_WS not in log, log[-2000:])
e = one_command(A, 'Echo', 'echo failover-a')
e = e and wait_execution(e['id'], timeout=60)
check('(a) it runs a command', e is not None and e['status'] == 'completed'
      and (stdout_of(e) or '').strip() == 'failover-a', e)
ctl('worker-stop', A)

# --- (a2), (a3) a first host that never answers ----------------------------
def behind_unanswering(label, upgrade, why):
    """A worker whose PULSE_WS lists a host that never answers (upgrade:
    after the upgrade), then the real one: it must come online through the
    second, the log naming why it left the first. Seconds it took."""
    s = Silent(upgrade)
    s.start()
    name = unique('wfo-' + label)
    forget(name)
    t0 = time.monotonic()
    ctl('worker-start', name, GROUP,
        'PULSE_WS=ws://127.0.0.1:%d/worker,%s' % (s.port, REAL_WS))
    w = online(name, 60)
    took = time.monotonic() - t0
    log = read_log(name)
    check('(%s) a worker whose first websocket host never answers%s comes '
          'online through the second' % (label, ' the hello' if upgrade
                                         else ''),
          w is not None and s.accepted >= 1, (took, s.accepted, log[-2000:]))
    check('(%s) it left that host for the next URL: %s' % (label, why),
          re.search(r'websocket ws://127\.0\.0\.1:%d/worker: %s; switching '
                    r'to %s' % (s.port, why, re.escape(REAL_WS)), log)
          is not None, log[-2000:])
    ctl('worker-stop', name)
    s.sock.close()
    return took


took = behind_unanswering('a2', False, r'no answer to the upgrade \(timed '
                          r'out\)')
diag('(a2) online %.1f s after the start (lws ends an unanswered upgrade)' %
     took)
took = behind_unanswering('a3', True, 'no answer to the hello within 10 s')
check('(a3) ... after the 10 s hello timeout', took >= 10, took)

# --- (b) the connected host goes away while a command runs ------------------
B = unique('wfo-b')
forget(B)
TMP = tempfile.mkdtemp(prefix='pulse-wfo.')
LEDGER = os.path.join(TMP, 'ledger')
ctl('worker-start', B, GROUP, 'PULSE_SERVER=%s,%s' % (REAL, DEAD_HTTP))
w = online(B, 60)
require('(b) a worker with PULSE_SERVER real,dead comes online', w is not None,
        read_log(B)[-2000:])
require('(b) ... on its first URL, without a switch',
        'websocket: connected to %s' % REAL_WS in read_log(B) and
        'switching to' not in read_log(B), read_log(B)[-2000:])

e = one_command(B, 'Long', 'echo run >> %s; sleep 4; echo failover-b' %
                LEDGER)
require('(b) an execution on it starts', e is not None)
EID = e['id']
st = wait_step(EID, 0, ('running',), timeout=30)
require('(b) its command runs', st is not None and
        st['steps'][0]['status'] == 'running' and
        wait_for(lambda: os.path.exists(LEDGER), 30, 0.05), st)

mark = len(read_log(B))
nginx = int(ctl('nginx-pid').strip())
try:
    with open('/proc/%d/task/%d/children' % (nginx, nginx)) as f:
        kids = [int(x) for x in f.read().split()]
except OSError:
    kids = []
down = False
try:
    for p in [nginx] + kids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    gone = wait_for(lambda: not any(pid_alive(p) for p in [nginx] + kids),
                    10, 0.05)
    down = gone is not None and gone is not False
    check('(b) nginx (master and workers) is killed', down, (nginx, kids))
    t_kill = time.monotonic()

    def after():
        return read_log(B)[mark:]

    def retried():
        a = after()
        return 'switching to %s' % DEAD_WS in a and \
            'all 2 URLs failed; switching to %s' % REAL_WS in a
    check('(b) the worker switches to the second URL, then back, and keeps '
          'retrying', wait_for(retried, 20, 0.1), after()[-2000:])
    m = re.search(r'websocket %s: [^\n]*; switching to %s in (\d+\.\d) s' %
                  (re.escape(REAL_WS), re.escape(DEAD_WS)), after())
    check('(b) the first switch after the loss of a working connection comes '
          'within 0.5 s', m is not None and float(m.group(1)) <= 0.5,
          after()[-2000:])
    finished = wait_for(lambda: re.search(r'command \S+: exit code 0',
                                          after()), 30, 0.1)
    check('(b) the command finishes while no host is reachable',
          finished is not None and finished is not False, after()[-2000:])
    # Longer than a round or two of the backoff, shorter than the grace
    # pushd gives a lost worker's running commands (30 s).
    time.sleep(max(0.0, 6 - (time.monotonic() - t_kill)))
finally:
    ctl('nginx-start', timeout=60)
t_up = time.monotonic()

x = wait_execution(EID, timeout=60)
back = time.monotonic() - t_up
check('(b) after nginx is back the execution completes with the command\'s '
      'output', x is not None and x['status'] == 'completed' and
      (stdout_of(x) or '').strip() == 'failover-b', x)
diag('(b) completed %.1f s after nginx was started again' % back)
a = read_log(B)[mark:]
m = re.search(r'websocket: connected to %s \((\d+\.\d+) s after the last '
              r'connection was lost\)' % re.escape(REAL_WS), a)
check('(b) the worker logs "connected to" the URL it reached, with the time '
      'it was without a host', m is not None, a[-2000:])
check('(b) the spooled result went out on the new connection',
      'sending 1 unacknowledged result(s) again' in a, a[-2000:])
with open(LEDGER) as f:
    runs = f.read().split()
check('(b) the command ran once', runs == ['run'], runs)
rows = sql("SELECT COUNT(*), SUM(status = 'succeeded') FROM dispatches "
           "WHERE execution_id = '%s'" % EID)
check('(b) one dispatch, succeeded', rows == [['1', '1']], rows)
rows = sql("SELECT COUNT(*) FROM events WHERE execution_id = '%s' AND "
           "type = 'dispatch_status' AND JSON_VALUE(payload, '$.status') = "
           "'succeeded'" % EID)
check('(b) the result is recorded once (one succeeded event)',
      rows == [['1']], rows)
ctl('worker-stop', B)

# --- (c) bad lists are refused at start -------------------------------------
BAD = [
    ({'PULSE_SERVER': REAL + ',ftp://x'},
     "PULSE_SERVER: entry 2 'ftp://x' is not an http:// or https:// URL"),
    ({'PULSE_SERVER': REAL, 'PULSE_WS': REAL_WS + ',,ws://b'},
     'PULSE_WS: entry 2 is empty'),
    ({'PULSE_SERVER': REAL, 'PULSE_WS': REAL_WS + ',http://b'},
     "PULSE_WS: entry 2 'http://b' is not a ws:// or wss:// URL"),
    ({'PULSE_SERVER': ','.join([REAL] * 9)},
     'PULSE_SERVER: 9 URLs; at most 8'),
    ({'PULSE_SERVER': REAL + ',http://h:99999'},
     "PULSE_SERVER: entry 2 'http://h:99999': bad port"),
]
for extra, want in BAD:
    tmp = tempfile.mkdtemp(prefix='pulse-wfo-bad.')
    env = {'PATH': '/usr/bin:/bin', 'PULSE_ENV_FILE': '',
           'WORKER_NAME': unique('wfo-bad'), 'WORKER_GROUPS': GROUP,
           'WORKER_STATE_DIR': os.path.join(tmp, 'state'),
           'WORKER_API_KEY': 'not-used'}
    env.update(extra)
    for k in ('ASAN_OPTIONS', 'UBSAN_OPTIONS'):
        if k in os.environ:
            env[k] = os.environ[k]
    p = subprocess.run([os.path.join(BIN, 'pulse-worker')], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30)
    check('(c) %s: refused at start' % want,
          p.returncode not in (0, None) and want in p.stderr and
          not os.path.exists(os.path.join(tmp, 'state', 'worker_id')),
          (p.returncode, p.stderr[-600:]))

DEAD_SOCK.close()
done()
