#!/usr/bin/env python3
"""Chaos: while executions run (workflows of known commands on local-1,
local-2 and a worker of this file's own, some with a prompt this file
answers, some ending in exit 3), every PULSE_CHAOS_INTERVAL seconds (20)
kill -9 one of pulse-pushd, a pulse-api child, a worker or mariadbd,
chosen by a seeded random (the seed is printed), and restart what needs
it (`ctl heal`; the api master replaces its children itself). Afterwards
every invariant of DESIGN section 8 holds, and file descriptors, memory
and database connections are back where they were, within a stated slack.

CI length: PULSE_CHAOS_SECONDS=120 (default) with 40 executions. The
documented long run: PULSE_CHAOS_SECONDS=900 PULSE_CHAOS_EXECUTIONS=200."""

import os
import random
import signal
import time

from faultlib import (Invariants, locals_online, sql_retry, start_worker,
                      stop_worker)
from live import online
from pulse_test import (CtlError, at_end, call, check, ctl, ctl_pids, diag,
                        done, prompt_step, require, unique)

SECONDS = int(os.environ.get('PULSE_CHAOS_SECONDS', 120))
EXECS = int(os.environ.get('PULSE_CHAOS_EXECUTIONS',
                           max(40, SECONDS * 200 // 900)))
INTERVAL = float(os.environ.get('PULSE_CHAOS_INTERVAL', 20))
seed = int(os.environ.get('PULSE_FAULT_SEED', random.SystemRandom().randrange(
    1, 1 << 30)))
diag('seed %d (PULSE_FAULT_SEED=%d repeats the choices); %d s, %d '
     'executions, a kill every %g s' % (seed, seed, SECONDS, EXECS, INTERVAL))
rnd = random.Random(seed)
stack = os.environ.get('PULSE_STACK', '')
# What "flat" allows after the run, per component: fds and connections
# are counts (a restarted process starts from scratch, a leak grows);
# memory under ASan grows with its quarantine, hence a wide margin.
FD_SLACK = 16
CONN_SLACK = 6
RSS_SLACK_KB = 96 * 1024

require('local-1 and local-2 online', locals_online())
mine = unique('chaos')
require('worker %s online' % mine, start_worker(mine, 'chaos') is not None)
at_end(lambda: stop_worker(mine))


# --- measurements --------------------------------------------------------------

def pidfile(name):
    try:
        with open(os.path.join(stack, name + '.pid')) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def running(pid):
    """The process exists and is not a zombie: a pid file alone does not
    say a component is measured."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return False


def proc_fds(pid):
    try:
        return len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return None


def proc_rss_kb(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def measure():
    """{component: (fds, rss_kb, live processes)} summed over its
    running processes, plus the database's connections."""
    groups = {
        'pushd': [pidfile('pushd')],
        'api': [pidfile('api')] + ctl_pids('api-children'),
        'mariadbd': [pidfile('mariadb')],
        'local-1': [pidfile('worker-local-1')],
        'local-2': [pidfile('worker-local-2')],
        mine: [pidfile('worker-' + mine)],
    }
    out = {}
    for k, pids in groups.items():
        pids = [p for p in pids if p and running(p)]
        fds = [proc_fds(p) for p in pids]
        rss = [proc_rss_kb(p) for p in pids]
        out[k] = (sum(x or 0 for x in fds), sum(x or 0 for x in rss),
                  len(pids))
    rows = sql_retry("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
    out['db connections'] = int(rows[0][1])
    return out


def settle_components():
    locals_online()
    online(mine, 60) or start_worker(mine, 'chaos')
    # api children come back by themselves; wait until there are some.
    for _ in range(50):
        if ctl_pids('api-children'):
            break
        time.sleep(0.2)


# --- the load ------------------------------------------------------------------

inv = Invariants('chaos')
WF = []
for k in range(6):
    steps = [inv.execute('a', seed=seed % 100000 + 10 * k + 1,
                         nbytes=rnd.choice((1000, 20000, 50 * 1024)),
                         sleep_s=0.2, targets=['local-1', 'local-2'],
                         timeout_ms=10000)]
    if k % 3 == 0:
        steps.append(prompt_step('ask', 'Go on?', ('Yes', 'No')))
    steps.append(inv.execute('b', seed=seed % 100000 + 10 * k + 2,
                             nbytes=rnd.choice((5000, 50 * 1024)),
                             sleep_s=rnd.choice((0.2, 1)),
                             targets=['demo', 'chaos'], timeout_ms=10000,
                             exit_code=3 if k == 5 else 0,
                             index=len(steps), cond_prev=k % 3 != 0))
    wf = inv.workflow(steps, 'chaos')
    require('workflow %d created' % k, wf is not None)
    WF.append((wf['id'], k % 3 == 0))
base = measure()
diag('before: %s' % base)

started = 0
answered = 0
unknown = 0
kills = {'pushd': 0, 'api child': 0, 'worker': 0, 'mariadbd': 0}
t_end = time.monotonic() + SECONDS
next_kill = time.monotonic() + INTERVAL / 2
gap = SECONDS * 0.8 / max(EXECS, 1)
next_start = time.monotonic()
prompted = []


def kill_one():
    what = rnd.choice(sorted(kills))
    try:
        if what == 'pushd':
            ctl('pushd-kill')
        elif what == 'mariadbd':
            ctl('db-kill')
        elif what == 'api child':
            kids = ctl_pids('api-children')
            if not kids:
                return None
            os.kill(rnd.choice(kids), signal.SIGKILL)
        else:
            victim = rnd.choice(['local-1', 'local-2', mine])
            what = 'worker ' + victim
            ctl('worker-kill', victim)
    except (CtlError, OSError) as e:
        diag('kill %s: %s' % (what, e))
        return None
    kills[what.split(' ')[0] if what.startswith('worker') else what] += 1
    return what


def heal():
    try:
        ctl('heal', timeout=120)
    except CtlError as e:
        diag('heal: %s' % e)
    if not os.path.exists(os.path.join(stack, 'worker-%s.pid' % mine)):
        try:
            ctl('worker-start', mine, 'chaos')
        except CtlError as e:
            diag('restart %s: %s' % (mine, e))


pending_heal = None
while time.monotonic() < t_end or started < EXECS:
    now = time.monotonic()
    if now >= t_end + 120:
        break
    if now >= next_kill and now < t_end:
        w = kill_one()
        diag('%5.1f s: kill -9 %s' % (SECONDS - (t_end - now), w))
        pending_heal = now + rnd.uniform(1, 4)
        next_kill = now + INTERVAL
    if pending_heal and now >= pending_heal:
        heal()
        pending_heal = None
    if started < EXECS and now >= next_start:
        wid, has_prompt = rnd.choice(WF)
        try:
            e = inv.start(wid)
        except OSError as ex:     # no answer at all: unknown, not acked
            e = None
            unknown += 1
            diag('start: %s' % ex)
        if e:
            started += 1
            if has_prompt:
                prompted.append(e['id'])
            next_start = now + gap
        else:
            next_start = now + 1
    # Answer prompts that are up.
    for eid in list(prompted):
        try:
            r = call('GET', '/api/executions/%s' % eid, timeout=10)
        except OSError:
            break
        if r[0] != 200:
            break
        if r[2].get('status') == 'waiting':
            try:
                a = call('POST', '/api/executions/%s/respond' % eid,
                         body={'response': 'Yes'}, timeout=10)
            except OSError:
                continue
            if a[0] == 200:
                inv.ack_answer(eid, 1, 'Yes', 'admin')
                answered += 1
                prompted.remove(eid)
        elif r[2].get('status') != 'running':
            prompted.remove(eid)
    time.sleep(0.2)

heal()
diag('kills: %s; %d executions started (acknowledged), %d starts without '
     'an answer, %d prompts answered' % (kills, started, unknown, answered))
check('chaos ran: %d kills, %d executions' % (sum(kills.values()), started),
      sum(kills.values()) >= max(1, int(SECONDS / INTERVAL) - 1) and
      started == EXECS, (kills, started))

# Prompts still up once everything is back: answer them, so every
# execution can end.
settle_components()
for eid in prompted:
    r = call('GET', '/api/executions/%s' % eid)
    if r[0] == 200 and r[2].get('status') == 'waiting':
        a = call('POST', '/api/executions/%s/respond' % eid,
                 body={'response': 'Yes'})
        if a[0] == 200:
            inv.ack_answer(eid, 1, 'Yes', 'admin')
ok = inv.check_all()
st = inv.statuses()
diag('outcomes: %s' % {s: sum(1 for r in st.values() if r['status'] == s)
                       for s in set(r['status'] for r in st.values())})

# --- flat ---------------------------------------------------------------------
settle_components()
time.sleep(5)
after = measure()
diag('after:  %s' % after)
for k in ('pushd', 'api', 'mariadbd', 'local-1', 'local-2', mine):
    b, a = base[k], after[k]
    check('%s: running before and after (%d and %d live processes)'
          % (k, b[2], a[2]), b[2] > 0 and a[2] > 0, (b, a))
    check('%s: file descriptors flat (%d before, %d after, slack %d)'
          % (k, b[0], a[0], FD_SLACK), a[0] <= b[0] + FD_SLACK and
          a[2] > 0 and b[2] > 0, (b, a))
    check('%s: memory flat (%d KB before, %d KB after, slack %d KB)'
          % (k, b[1], a[1], RSS_SLACK_KB), a[1] <= b[1] + RSS_SLACK_KB and
          a[2] > 0 and b[2] > 0, (b, a))
check('database connections flat (%d before, %d after, slack %d)'
      % (base['db connections'], after['db connections'], CONN_SLACK),
      after['db connections'] <= base['db connections'] + CONN_SLACK,
      (base['db connections'], after['db connections']))
stop_worker(mine)
check('local-1 and local-2 online', locals_online())
if ok:
    at_end(inv.cleanup)
done()
