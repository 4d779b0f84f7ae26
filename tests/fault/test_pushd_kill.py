#!/usr/bin/env python3
"""kill -9 pulse-pushd at five random moments (seeded; the seed is printed)
of a 100-step execution on three workers (local-1, local-2 and one this
file starts), each step appending to the ledger, sleeping 0.2 s and printing
50 KB of known output; pushd is restarted each time. The execution
completes and DESIGN section 8's nine invariants hold."""

import os
import random
import time

from faultlib import (Invariants, current_step, locals_online, start_worker,
                      stop_worker)
from pulse_test import at_end, check, ctl, diag, done, require, unique

STEPS = int(os.environ.get('PULSE_FAULT_STEPS', 100))
KILLS = 5
seed = int(os.environ.get('PULSE_FAULT_SEED', random.SystemRandom().randrange(
    1, 1 << 30)))
diag('seed %d (PULSE_FAULT_SEED=%d repeats this run)' % (seed, seed))
rnd = random.Random(seed)

require('local-1 and local-2 online', locals_online())
third = unique('pk')
require('third worker %s online' % third,
        start_worker(third, 'fault') is not None)
at_end(lambda: stop_worker(third))

inv = Invariants('pushd-kill')
targets = ['local-1', 'local-2', third]
steps = [inv.execute('step %d' % i, seed=seed + i, nbytes=50 * 1024,
                     sleep_s=0.2, targets=targets, timeout_ms=60000,
                     index=i, cond_prev=(i % 10 == 5))
         for i in range(STEPS)]
e = inv.start(steps)
require('100-step execution started', e is not None)
eid = e['id']

# Kill points: steps spread over the run, and a jitter inside each.
points = sorted(rnd.sample(range(3, STEPS - 3), KILLS))
diag('kill pushd when the execution reaches steps %s' % points)
kills = 0
for p in points:
    def reached():
        x = current_step(eid)
        return x is not None and (x['current_step'] >= p or
                                  x['status'] != 'running')
    t0 = time.monotonic()
    while not reached() and time.monotonic() - t0 < 240:
        time.sleep(0.1)
    time.sleep(rnd.uniform(0, 0.6))
    x = current_step(eid)
    if x is None or x['status'] != 'running':
        diag('execution no longer running at kill point %d: %s'
             % (p, x and x['status']))
        break
    ctl('pushd-kill')
    kills += 1
    pause = rnd.uniform(0.2, 3.0)
    diag('kill %d at step %d; restart after %.1f s' % (kills, x[
        'current_step'], pause))
    time.sleep(pause)
    ctl('pushd-start')
check('pushd was killed %d times during the execution' % KILLS,
      kills == KILLS, kills)

ok = inv.check_all()
x = current_step(eid) or {}
check('the 100-step execution completed', x.get('status') == 'completed',
      {'status': x.get('status'), 'error': x.get('error')})
lines = inv.ledger.entries()
check('every step ran on each of the 3 workers exactly once: %d starts'
      % (3 * STEPS), sorted(lines) == sorted(set(lines)) and
      len(lines) == 3 * STEPS, len(lines))
check('local-1 and local-2 online again', locals_online())
if ok:
    at_end(inv.cleanup)
done()
