#!/usr/bin/env python3
"""MariaDB dies or freezes while executions run (DESIGN section 8):
(a) kill -9 of mariadbd, restarted 10 s later; (b) kill -STOP for 30 s,
then -CONT. Meanwhile pulse-api answers 503 with a JSON error (in its DB
time-outs: a frozen server must not hang a request until nginx gives up),
/health says 503 "disconnected", and a client retrying a keyed start gets
its execution once the database is back. Afterwards everything recovers
by itself: pulse-api (master and children), pushd, the workers and nginx
keep their PIDs; the executions finish with every command run once and
every result stored (the nine invariants, faultlib).

test_db_outage.py covers a clean db-stop with an idle stack; this file
adds the crash, the freeze, and work in flight."""

import os
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))

from apifault import executions_per_key, heal, start_keyed  # noqa: E402
from faultlib import Invariants  # noqa: E402
from live import online  # noqa: E402
from pulse_test import (CtlError, call, check, ctl, ctl_pids,  # noqa: E402
                        diag, done, have_ctl, is_json_error, require, sql,
                        wait_for)

require('PULSE_CTL and PULSE_STACK are set',
        have_ctl() and os.environ.get('PULSE_STACK'))
require('workers local-1 and local-2 are online',
        online('local-1', 60) and online('local-2', 60))


def pids():
    out = {'api-master': tuple(ctl_pids('api-master')),
           'api-children': tuple(sorted(ctl_pids('api-children')))}
    out['pushd'] = ctl('pushd-pid').strip()
    out['nginx'] = ctl('nginx-pid').strip()
    for w in ('local-1', 'local-2'):
        out[w] = ctl('worker-pid', w).strip()
    return out


def health():
    t = time.monotonic()
    try:
        r = call('GET', '/health', user=None, timeout=120)
    except OSError as e:
        r = (type(e).__name__, None, None)
    return r, time.monotonic() - t


def recovered():
    r, _ = health()
    return r[0] == 200 and isinstance(r[2], dict) and \
        r[2].get('database') == 'connected'


def timed(method, path, **kw):
    t = time.monotonic()
    try:
        r = call(method, path, timeout=120, **kw)
    except OSError as e:
        r = (type(e).__name__, None, None)
    return r, time.monotonic() - t


def commands_running(inv, n):
    def probe():
        rows = sql("SELECT COUNT(*) FROM dispatches WHERE status = "
                   "'running' AND execution_id IN (%s)"
                   % ','.join("'%s'" % e for e in inv.executions))
        return int(rows[0][0]) >= n
    return wait_for(probe, 60, 0.2)


def workload(inv, tag):
    """Two-step workflow on both workers: a slow first step that is
    running when the fault starts and ends during it, then a step that
    runs only if the first succeeded (its condition reads its result)."""
    steps = [inv.execute('slow', seed=101, nbytes=30000, sleep_s=4,
                         targets=['demo']),
             inv.execute('after', seed=102, nbytes=4000, sleep_s=0.5,
                         targets=['demo'], cond_prev=True, index=1)]
    wf = inv.workflow(steps, 'dbfault-' + tag)
    require('%s: a workflow' % tag, wf is not None)
    for _ in range(3):
        inv.start(wf)
    require('%s: three executions started' % tag, len(inv.acked) == 3)
    check('%s: their first commands are running' % tag,
          commands_running(inv, 2))
    return wf


class KeyedClient(threading.Thread):
    """A script starting an execution while the database is away: it
    retries (same Idempotency-Key) until it gets an answer."""

    def __init__(self, wid):
        super().__init__()
        self.wid, self.key = wid, 'dbfault-' + uuid.uuid4().hex
        self.r, self.seen = None, []

    def run(self):
        self.r, self.seen = start_keyed(self.wid, self.key, tries=400,
                                        pause=0.5, timeout=120)


def during(tag, r_api, r_post):
    check_r = r_api[0]
    check('%s: GET /api/workflows answers 503 (%s, %.1f s)'
          % (tag, check_r[0], r_api[1]), check_r[0] == 503, check_r[2])
    check('%s: ... with a JSON error' % tag, is_json_error(check_r),
          check_r[2])
    check('%s: POST /api/workflows answers 503 (%s, %.1f s)'
          % (tag, r_post[0][0], r_post[1]), r_post[0][0] == 503,
          r_post[0][2])


def after(tag, inv, before, client, wf):
    check('%s: /health recovers by itself' % tag,
          wait_for(recovered, 60, 0.25))
    ok = wait_for(lambda: call('GET', '/api/workflows')[0] == 200, 30, 0.25)
    check('%s: the API recovers by itself' % tag, ok)
    # A child that timed out last holds off for 2 s (db.c DB_HOLD_MS).
    last = []

    def all_children():
        last[:] = [call('GET', '/api/workflows')[0] for _ in range(16)]
        return last == [200] * 16
    check('%s: every child answers again (16 GETs in a row: 200)' % tag,
          wait_for(all_children, 30, 0.5), last)
    client.join(300)
    check('%s: the retried keyed start got its execution (%s after %s)'
          % (tag, client.r and client.r[0], client.seen[:-1][:8]),
          client.r is not None and client.r[0] == 201, client.seen)
    if client.r is not None and client.r[0] == 201:
        inv.ack_execution(client.r[2]['id'])
    n = executions_per_key([client.key])[client.key]
    check('%s: ... exactly one for its key' % tag, n == 1, n)
    total = int(sql("SELECT COUNT(*) FROM executions WHERE workflow_id = "
                    "'%s'" % wf['id'])[0][0])
    check('%s: no execution was added or lost (%d)' % (tag, total),
          total == len(inv.acked), (total, len(inv.acked)))
    check('%s: workers local-1 and local-2 online again' % tag,
          online('local-1', 90) and online('local-2', 90))
    now = pids()
    check('%s: nothing was restarted: pulse-api master and children, pushd, '
          'nginx and the workers kept their PIDs' % tag, now == before,
          {k: (before[k], now[k]) for k in now if now[k] != before[k]})
    # A new execution runs from end to end on both workers.
    inv.start(wf)
    inv.check_all()


# --- (a) kill -9, restart 10 s later --------------------------------------
inva = Invariants('db-kill')
wfa = workload(inva, 'kill')
before = pids()
client = KeyedClient(wfa['id'])
try:
    ctl('db-kill')
    t_down = time.monotonic()
    client.start()
    r = wait_for(lambda: (lambda x: x if x[0][0] == 503 else None)(health()),
                 30, 0.25) or health()
    check('kill: /health answers 503 (%.1f s)' % r[1], r[0][0] == 503,
          r[0][2])
    check('kill: ... "database": "disconnected"',
          isinstance(r[0][2], dict) and
          r[0][2].get('database') == 'disconnected', r[0][2])
    during('kill', timed('GET', '/api/workflows'),
           timed('POST', '/api/workflows',
                 body={'name': 'dbfault-nope', 'definition': {
                     'steps': [{'name': 'a', 'type': 'wait',
                                'duration': 1}]}}))
    time.sleep(max(0, 10 - (time.monotonic() - t_down)))
finally:
    try:
        ctl('db-start', timeout=180)
    except CtlError as e:
        require('db-start', False, str(e))
after('kill', inva, before, client, wfa)

# --- (b) kill -STOP for 30 s, then -CONT -----------------------------------
invb = Invariants('db-stop')
wfb = workload(invb, 'freeze')
before = pids()
client = KeyedClient(wfb['id'])
dbpid = int(ctl('db-pid').strip())
frozen = []
try:
    os.kill(dbpid, 19)      # SIGSTOP
    t_stop = time.monotonic()
    client.start()
    r = health()
    frozen.append(r[1])
    check('freeze: /health answers 503 "disconnected" (in %.1f s)' % r[1],
          r[0][0] == 503 and isinstance(r[0][2], dict) and
          r[0][2].get('database') == 'disconnected', r[0])
    during('freeze', timed('GET', '/api/workflows'),
           timed('POST', '/api/workflows',
                 body={'name': 'dbfault-nope', 'definition': {
                     'steps': [{'name': 'a', 'type': 'wait',
                                'duration': 1}]}}))
    # Many more requests at once than there are children: each must be
    # answered 503, not left queued until nginx's time-out (504), which
    # needs a child to stop waiting out a time-out per request.
    n = 16 * len(before['api-children'])
    res = [None] * n

    def one(i):
        res[i] = timed('GET', '/api/executions')
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    codes = [x[0][0] for x in res]
    secs = sorted(round(x[1], 1) for x in res)
    diag('freeze: %d concurrent GETs answered within %.1f s (median '
         '%.1f s)' % (n, secs[-1], secs[n // 2]))
    check('freeze: %d concurrent GETs all answered 503' % n,
          codes == [503] * n, codes)
    time.sleep(max(0, 30 - (time.monotonic() - t_stop)))
finally:
    os.kill(dbpid, 18)      # SIGCONT
after('freeze', invb, before, client, wfb)

heal()
inva.cleanup()
invb.cleanup()
done()
