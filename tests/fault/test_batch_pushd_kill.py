#!/usr/bin/env python3
"""kill -9 pulse-pushd at random moments (seeded; the seed is printed) of
a batched execute step (issue 14): 8 workers of one group in batches of 2
with a pause between them, each target appending to a ledger and sleeping;
pushd is restarted each time. After the restarts the step ends, every
target ran exactly once (the ledger), batches ran in order (each batch's
first start after the previous batch's last end) and none was skipped or
started twice (the step row's batch_index and the dispatch rows)."""

import os
import random
import time

from faultlib import Ledger, current_step, start_worker, stop_worker
from live import execute, run
from pulse_test import at_end, check, ctl, diag, done, require, sql, unique

N = 8
KILLS = 4
seed = int(os.environ.get('PULSE_FAULT_SEED', random.SystemRandom().randrange(
    1, 1 << 30)))
diag('seed %d (PULSE_FAULT_SEED=%d repeats this run)' % (seed, seed))
rnd = random.Random(seed)

group = unique('bk')
names = ['%s-%d' % (group, i) for i in range(N)]
for n in names:
    at_end(lambda n=n: stop_worker(n))
    require('worker %s online' % n, start_worker(n, group) is not None)

ledger = Ledger('batch')
at_end(ledger.remove)
command = ledger.fragment() + '; sleep 0.4; echo done'
e = run([execute('roll', command, ['group:' + group], timeout=60000,
                 batch={'size': 2, 'pause': 700})], prefix='fault-batch')
require('batched execution started', e is not None and 'id' in e, e)
eid = e['id']

# One kill in each of batches 1 to 4, at a random moment of it: while its
# commands run, as they end, or in the pause after it.
kills = 0
for k in range(1, KILLS + 1):
    def reached():
        x = current_step(eid)
        b = x and (x['steps'][0].get('batch') or {})
        return x is not None and (x['status'] != 'running' or
                                  (b.get('index') or 0) >= k)
    t0 = time.monotonic()
    while not reached() and time.monotonic() - t0 < 120:
        time.sleep(0.05)
    time.sleep(rnd.uniform(0, 1.0))
    x = current_step(eid)
    if x is None or x['status'] != 'running':
        diag('execution no longer running before kill %d' % (kills + 1))
        break
    b = x['steps'][0].get('batch') or {}
    ctl('pushd-kill')
    kills += 1
    pause = rnd.uniform(0.1, 2.0)
    diag('kill %d in batch %s (failures %s); restart after %.1f s'
         % (kills, b.get('index'), b.get('failures'), pause))
    time.sleep(pause)
    ctl('pushd-start')
check('pushd was killed during the batched step (%d times)' % kills,
      kills >= 3, kills)


def ended():
    x = current_step(eid)
    return x if x and x['status'] != 'running' else None


t0 = time.monotonic()
x = None
while x is None and time.monotonic() - t0 < 180:
    x = ended()
    time.sleep(0.2)
x = x or current_step(eid) or {}
check('the execution completed', x.get('status') == 'completed',
      {'status': x.get('status'), 'error': x.get('error')})
st = (x.get('steps') or [{}])[0]
check('the step: batch 4 of 4, no failures', st.get('batch') == {
    'index': 4, 'count': 4, 'failures': 0, 'max_failures': 0,
    'sizes': [2, 2, 2, 2]}, st.get('batch'))

mine = [w for (ex, step, att, w) in ledger.entries() if ex == eid]
check('every target ran exactly once (ledger: %d lines)' % len(mine),
      sorted(mine) == sorted(names), sorted(mine))
rows = sql("SELECT batch, worker_name, status, "
           "DATE_FORMAT(started_at, '%%Y-%%m-%%d %%H:%%i:%%s.%%f'), "
           "DATE_FORMAT(finished_at, '%%Y-%%m-%%d %%H:%%i:%%s.%%f') "
           "FROM dispatches WHERE execution_id = '%s'" % eid)
check('one dispatch per target, each in its batch, all succeeded',
      len(rows) == N and
      sorted((int(r[0]), r[1]) for r in rows) ==
      [(i // 2 + 1, n) for i, n in enumerate(sorted(names))] and
      all(r[2] == 'succeeded' for r in rows), rows)
by = {}
for r in rows:
    by.setdefault(int(r[0]), []).append(r)
for k in range(2, 5):
    if k in by and k - 1 in by:
        first = min(r[3] for r in by[k])
        last = max(r[4] for r in by[k - 1])
        check('batch %d started (%s) after batch %d ended (%s)'
              % (k, first, k - 1, last), first > last)
done()
