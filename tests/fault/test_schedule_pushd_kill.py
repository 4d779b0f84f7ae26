#!/usr/bin/env python3
"""Schedules fire once (SPEC section 16) through kill -9 and beside a
second firer, on the scheduler's test clock ($PULSE_STACK/clock).

1. Eight every-minute schedules; six times the clock steps to the next
   minute and pushd is killed -9 a random moment (0..0.4 s) later, in the
   middle of the fires or not, then started again: each schedule has
   exactly one fire row and one execution for each minute.
2. A second pulse-pushd (its own node id and sockets, the same database
   and clock) runs beside the first while twenty schedules fire over five
   minutes, one more with the first down and one with both again: still
   exactly one execution per (schedule, fire time).
Both end with the fault suite's schedule invariants (faultlib)."""

import atexit
import os
import random
import signal
import subprocess
import time

from faultlib import check_schedules, schedule_fires
from pulse_test import (SchedClock, at_end, call, check, ctl, diag, done,
                        require, unique, wait_for)

STACK = os.environ.get('PULSE_STACK', '')
BIN = os.environ.get('PULSE_BIN', '')
ENV_FILE = os.environ.get('PULSE_ENV_FILE', '')
require('PULSE_STACK, PULSE_BIN and PULSE_ENV_FILE set',
        STACK and BIN and ENV_FILE)
seed = int(os.environ.get('PULSE_FAULT_SEED', random.SystemRandom().randrange(
    1, 1 << 30)))
diag('seed %d (PULSE_FAULT_SEED=%d repeats this run)' % (seed, seed))
rnd = random.Random(seed)
clock = SchedClock()
CLOCK = clock.path
next_minute = clock.next_minute

r = call('POST', '/api/workflows', body={
    'name': unique('sch-fault'),
    'definition': {'steps': [{'name': 'w', 'type': 'wait', 'duration': 0}]}})
require('set-up: a workflow', r[0] == 201, r)
wid = r[2]['id']
at_end(lambda: call('DELETE', '/api/workflows/' + wid))


def schedules(n, prefix):
    out = []
    for _ in range(n):
        r = call('POST', '/api/schedules', body={
            'workflow_id': wid, 'name': unique(prefix), 'cron': '* * * * *',
            'overlap': 'allow'})
        require('set-up: a schedule', r[0] == 201, r)
        sid = r[2]['id']
        clock.keep(sid)
        at_end(lambda sid=sid: call('DELETE', '/api/schedules/' + sid))
        out.append(sid)
    return out


def all_fired(sids, m):
    return all(any(f[0] == m for f in schedule_fires(s)) for s in sids)


def disable(sids):
    for s in sids:
        call('PUT', '/api/schedules/' + s, body={'enabled': False})


# --- 1: kill -9 across fires ------------------------------------------------
kill_sids = schedules(8, 'sch-kill')
minutes = []
for i in range(6):
    m = next_minute()
    minutes.append(m)
    time.sleep(rnd.uniform(0, 0.4))
    ctl('pushd-kill')
    time.sleep(rnd.uniform(0.1, 1.5))
    ctl('pushd-start')
    ok = wait_for(lambda: all_fired(kill_sids, m), 20, 0.2)
    check('kill %d: every schedule fired minute %d after the restart'
          % (i + 1, i + 1), ok)
disable(kill_sids)
once = []
for s in kill_sids:
    got = [f for f in schedule_fires(s) if f[0] in minutes]
    if len(got) != len(minutes) or any(f[1] != 'started' for f in got):
        once.append((s, got))
check('kill -9: each of 8 schedules started exactly one execution for '
      'each of the 6 minutes', not once, once[:3])
check_schedules(kill_sids, every=60, upto=minutes[-1])

# --- 2: two pushd firing the same schedules ----------------------------------
run = os.path.join(STACK, 'run')
env = dict(os.environ, PULSE_NODE_ID='sched-second',
           PULSE_PUSHD_WORKER_SOCKET=os.path.join(run, 'pushd2-worker.sock'),
           PULSE_PUSHD_BROWSER_SOCKET=os.path.join(run, 'pushd2-browser.sock'),
           PULSE_PUSHD_METRICS_SOCKET=os.path.join(run, 'pushd2-metrics.sock'),
           PULSE_TEST_CLOCK_FILE=CLOCK)
log = open(os.path.join(STACK, 'log', 'pulse-pushd2.log'), 'ab')
second = subprocess.Popen([os.path.join(BIN, 'pulse-pushd'), '-e', ENV_FILE],
                          env=env, stdout=log, stderr=log)


def stop_second():
    if second.poll() is None:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(15)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait()
    if not log.closed:
        log.close()


atexit.register(stop_second)	# also after a failed check
require('a second pushd runs', wait_for(
    lambda: os.path.exists(env['PULSE_PUSHD_WORKER_SOCKET']) or
    second.poll() is not None, 10) and second.poll() is None)
two_sids = schedules(20, 'sch-two')
minutes = []
for i in range(5):
    m = next_minute()
    minutes.append(m)
    check('two pushd: every schedule fired minute %d' % (i + 1),
          wait_for(lambda: all_fired(two_sids, m), 20, 0.2))
# The first pushd down for a minute: the second fires alone, then both.
ctl('pushd-kill')
m = next_minute()
minutes.append(m)
check('two pushd: the second fires alone while the first is down',
      wait_for(lambda: all_fired(two_sids, m), 20, 0.2))
ctl('pushd-start')
m = next_minute()
minutes.append(m)
check('two pushd: both again, every schedule fired',
      wait_for(lambda: all_fired(two_sids, m), 20, 0.2))
disable(two_sids)
check('the second pushd is still running', second.poll() is None)
stop_second()
once = []
for s in two_sids:
    got = [f for f in schedule_fires(s) if f[0] in minutes]
    if len(got) != len(minutes) or any(f[1] != 'started' for f in got):
        once.append((s, got))
check('two pushd: each of 20 schedules started exactly one execution for '
      'each of the %d minutes' % len(minutes), not once, once[:3])
split = ctl('sql', "SELECT fired_by, COUNT(*) FROM schedule_fires WHERE "
            "schedule_id IN (%s) GROUP BY fired_by" %
            ','.join("'%s'" % s for s in two_sids))
diag('fires per pushd: %s' % split.strip().replace('\n', '; '))
check('the second pushd fired some', 'sched-second' in split, split)
check_schedules(two_sids, every=60, upto=minutes[-1])

done()
