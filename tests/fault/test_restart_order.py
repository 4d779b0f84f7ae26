#!/usr/bin/env python3
"""Stop and start every component (MariaDB, pulse-api, pushd, nginx, both
workers) in seeded random orders while executions run and a client keeps
calling the API. Each stop is a SIGTERM under that load: pulse-api (master
and children), pulse-pushd and pulse-worker must drain and exit by
themselves, never needing a SIGKILL (the seconds each took are printed,
MariaDB's and nginx's too; a figure, not a check: how long a drain takes
depends on the machine). After each
round everything works again with nothing restarted by hand beyond the
round itself: /health, both workers online, a new execution completes on
both; the client's keyed starts each made exactly one execution. Then
the nine invariants (faultlib) over all of it.

PULSE_FAULT_SEEDS (default "1 2 3") chooses the rounds.
"""

import os
import random
import signal
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))

from apifault import (STACK, executions_per_key, heal, pid_alive,  # noqa
                      retrying, start_keyed)
from faultlib import Invariants  # noqa: E402
from live import online, wait_execution  # noqa: E402
from pulse_test import (call, check, ctl, diag, done, have_ctl,  # noqa: E402
                        require, wait_for)

require('PULSE_CTL and PULSE_STACK are set', have_ctl() and STACK)
require('workers local-1 and local-2 are online',
        online('local-1', 60) and online('local-2', 60))
SEEDS = [int(x) for x in os.environ.get('PULSE_FAULT_SEEDS', '1 2 3')
         .split()]
WORKERS = {'local-1': 'demo', 'local-2': 'demo,db'}
COMPONENTS = ['mariadb', 'api', 'pushd', 'nginx', 'local-1', 'local-2']
# Only ends a hung drain: far past any component's own stop timeout.
DEADLINE_S = 120
CHECKED = ('api', 'pushd', 'local-1', 'local-2')


def pidfile(c):
    return os.path.join(STACK, {'mariadb': 'mariadb.pid', 'api': 'api.pid',
                                'pushd': 'pushd.pid', 'nginx': 'nginx.pid'}
                        .get(c, 'worker-%s.pid' % c))


def read_pid(c):
    try:
        with open(pidfile(c)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def children_of(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def stop(c):
    """SIGTERM to c; seconds until it and (pulse-api) its children are
    gone, or None if it had to be killed after DEADLINE_S."""
    pid = read_pid(c)
    if pid is None or not pid_alive(pid):
        return 0.0
    procs = [pid] + (children_of(pid) if c == 'api' else [])
    t = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    while time.monotonic() - t < DEADLINE_S:
        if not any(pid_alive(p) for p in procs):
            took = time.monotonic() - t
            try:
                os.unlink(pidfile(c))
            except OSError:
                pass
            return took
        time.sleep(0.05)
    for p in procs:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return None


def start(c):
    if c == 'mariadb':
        ctl('db-start', timeout=180)
    elif c == 'pushd':
        ctl('pushd-start', timeout=60)
    elif c in WORKERS:
        ctl('worker-start', c, WORKERS[c], timeout=60)
    elif c == 'api':
        ctl('api-start', timeout=60)
    elif c == 'nginx':
        ctl('nginx-start', timeout=60)


class Load(threading.Thread):
    """A client script: lists executions and starts keyed ones (retrying
    each until it is answered) for as long as the round lasts."""

    def __init__(self, wid):
        super().__init__()
        self.wid = wid
        self.stop = threading.Event()
        self.keys, self.started, self.calls = [], [], 0

    def run(self):
        while not self.stop.is_set():
            try:
                call('GET', '/api/executions?limit=5', timeout=30)
            except OSError:
                pass
            self.calls += 1
            key = 'restart-' + uuid.uuid4().hex
            self.keys.append(key)
            r, _ = start_keyed(self.wid, key, tries=600, pause=0.5,
                               timeout=60)
            if r is not None and r[0] == 201:
                self.started.append(r[2]['id'])
            time.sleep(0.5)


inv = Invariants('restart-order')
# Running when the round starts (4 s), killed by its worker's drain or
# finishing; then a step that runs only if it succeeded.
wf = inv.workflow([inv.execute('long', seed=201, nbytes=20000, sleep_s=4,
                               targets=['demo'], timeout_ms=20000),
                   inv.execute('next', seed=202, nbytes=3000,
                               targets=['demo'], timeout_ms=20000,
                               cond_prev=True, index=1)], 'restart-load')
quick = inv.workflow([inv.execute('check', seed=203, nbytes=2000,
                                  targets=['demo'], timeout_ms=20000)],
                     'restart-check')
require('workflows', wf is not None and quick is not None)
times = {c: [] for c in COMPONENTS}
keys = []

for seed in SEEDS:
    rnd = random.Random(seed)
    down, up = COMPONENTS[:], COMPONENTS[:]
    rnd.shuffle(down)
    rnd.shuffle(up)
    diag('round %d: stop %s; start %s' % (seed, down, up))
    before = len(inv.ledger.lines())
    for _ in range(3):
        inv.start(wf)
    wait_for(lambda: call('GET', '/api/workers')[0] == 200, 10)
    load = Load(wf['id'])
    load.start()
    # Commands running (the ledger has their starts), the client calling.
    check('round %d: commands running and the client calling before the '
          'stops' % seed,
          wait_for(lambda: len(inv.ledger.lines()) > before and
                   load.calls > 0, 120, 0.1),
          (before, len(inv.ledger.lines()), load.calls))
    for c in down:
        took = stop(c)
        times[c].append(took)
        diag('round %d: %s exited %s after SIGTERM' % (
            seed, c, 'in %.2f s' % took if took is not None else
            'NOT within %d s (killed)' % DEADLINE_S))
        if c in CHECKED:
            check('round %d: %s drains and exits by itself on SIGTERM '
                  'under load' % (seed, c), took is not None, took)
        time.sleep(rnd.uniform(0, 1))
    for c in up:
        try:
            start(c)
        except Exception as e:  # noqa
            check('round %d: start %s' % (seed, c), False, str(e))
        time.sleep(rnd.uniform(0, 1))
    ok = wait_for(lambda: call('GET', '/health', user=None)[0] == 200, 60)
    check('round %d: /health is 200 again' % seed, ok)
    check('round %d: local-1 and local-2 online again' % seed,
          online('local-1', 120) and online('local-2', 120))
    load.stop.set()
    load.join(300)
    keys += load.keys
    for e in load.started:
        inv.ack_execution(e)
    diag('round %d: the client made %d calls, %d keyed starts'
         % (seed, load.calls, len(load.started)))
    check('round %d: each of the client\'s keyed starts was answered 201'
          % seed, len(load.started) == len(load.keys),
          (len(load.started), len(load.keys)))
    r, _ = retrying('POST', '/api/executions',
                    body={'workflow_id': quick['id']})
    e = r[2] if r is not None and r[0] == 201 else None
    if e:
        inv.ack_execution(e['id'])
        e = wait_execution(e['id'], timeout=120)
    names = sorted(d['worker_name'] for d in
                   (e or {}).get('steps', [{}])[0].get('dispatches') or [])
    check('round %d: a new execution completes on both workers' % seed,
          e is not None and e['status'] == 'completed' and
          names == ['local-1', 'local-2'], e and (e['status'], names))

diag('seconds from SIGTERM to exit: %s' % {
    c: [round(t, 2) if t is not None else None for t in v]
    for c, v in times.items()})
per_key = executions_per_key(keys)
check('each of the %d keyed starts made exactly one execution' % len(keys),
      all(n == 1 for n in per_key.values()),
      [(k, n) for k, n in per_key.items() if n != 1][:10])
n = int(__import__('pulse_test').sql(
    "SELECT COUNT(*) FROM executions WHERE workflow_id = '%s'"
    % wf['id'])[0][0])
check('no execution without a 2xx or a key: %d = %d started + %d keyed'
      % (n, 3 * len(SEEDS), len(keys)), n == 3 * len(SEEDS) + len(keys), n)
inv.check_all()
heal()
inv.cleanup()
done()
