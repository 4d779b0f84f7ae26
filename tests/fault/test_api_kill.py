#!/usr/bin/env python3
"""kill -9 of pulse-api children while they start executions and while
they record prompt answers; the clients retry (with an Idempotency-Key
for starts, with "step" for answers). Nothing is half-written, nothing
runs twice, each answer is recorded once.

To hit "while" for sure, SQL sessions hold table locks: with events
locked, a start stops inside its transaction (execution and steps written,
its first event waiting), and so does an answer (the answer written); with
executions locked next (that lock waits for their transactions) and events
let go, they commit and stop on their reply's first SELECT. The busy
children are killed at one of those two points, then the locks go.
After those four windows, a storm:
clients start and answer in a loop while random busy children are
killed. Then the tables are checked and DESIGN section 8's invariants.
"""

import os
import random
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))

from apifault import (KEY, Session, answer, answers_recorded,  # noqa: E402
                      busy_children, count_executions, executions_per_key,
                      heal, kill9, replayed, start_keyed, wait_children,
                      whole_executions)
from faultlib import Invariants  # noqa: E402
from live import online  # noqa: E402
from pulse_test import (check, ctl_pids, diag, done, have_ctl,  # noqa: E402
                        prompt_step, require, sql, wait_for)

require('PULSE_CTL and PULSE_STACK are set',
        have_ctl() and os.environ.get('PULSE_STACK'))
require('workers local-1 and local-2 are online',
        online('local-1', 60) and online('local-2', 60))
nchildren = len(ctl_pids('api-children'))
require('pulse-api has children', nchildren >= 2, nchildren)

inv = Invariants('api-kill')
wa = inv.workflow([inv.execute('Run', seed=11, nbytes=3000,
                               targets=['demo'])], 'apikill-exec')
wb = inv.workflow([prompt_step('Go'),
                   inv.execute('After', seed=12, nbytes=3000,
                               targets=['demo'])], 'apikill-prompt')
wd = inv.workflow([prompt_step('First'), prompt_step('Second')],
                  'apikill-two')
require('three workflows', wa and wb and wd)
wids = [wa['id'], wb['id'], wd['id']]
nsteps = {wa['id']: 1, wb['id']: 2, wd['id']: 2}
keys = []
lock = threading.Lock()
stats = {'kills': 0, 'replays': 0, 'mine': 0, 'retried': 0}


def keyed_start(wid, out):
    key = 'apikill-' + uuid.uuid4().hex
    with lock:
        keys.append(key)
    r, seen = start_keyed(wid, key)
    if r is not None and r[0] == 201 and isinstance(r[2], dict):
        inv.ack_execution(r[2]['id'])
    with lock:
        if len(seen) > 1:
            stats['retried'] += 1
        if replayed(r):
            stats['replays'] += 1
    out.append((key, r, seen))


def keyed_answer(eid, step, resp, out):
    res, seen = answer(eid, step, resp)
    if res in ('answered', 'mine'):
        inv.ack_answer(eid, step, resp)
    with lock:
        if len(seen) > 1:
            stats['retried'] += 1
        if res == 'mine':
            stats['mine'] += 1
    out.append((eid, res, seen))


def waiting_on(watch, pattern, n, children=False):
    """At least n statements like pattern wait for a table lock (and,
    with children, n pulse-api children are busy), twice in a row: pushd
    runs some of the same statements. Asked on an open session: a
    child's statement gives up after DB_TIMEOUT (5 s), so the whole
    window must fit in that on a loaded machine."""
    def probe():
        rows = watch.run("SELECT COUNT(*) FROM information_schema."
                         "PROCESSLIST WHERE STATE LIKE '%%metadata lock%%' "
                         "AND INFO LIKE '%s';" % pattern)
        return int(rows[0]) >= n and \
            (not children or len(busy_children()) >= n)
    return wait_for(lambda: probe() and (time.sleep(0.1) or probe()), 30,
                    0.02)


def window(descr, jobs, after_commit):
    """Run jobs (requests) and kill their children mid-request: with
    events locked they stop at their first INSERT INTO events, inside
    their transaction; with after_commit, executions is locked meanwhile
    (its lock waits for their transactions), events unlocked, and they
    stop after COMMIT on the reply's first SELECT. Then unlock all."""
    s1, s2, watch = Session(), Session(), Session()
    s1.run('LOCK TABLES events WRITE;')
    threads = [threading.Thread(target=j) for j in jobs]
    t2 = None
    killed = 0
    try:
        for t in threads:
            t.start()
        stopped = waiting_on(watch, 'INSERT INTO events%', len(jobs), True)
        if after_commit and stopped:
            t2 = threading.Thread(
                target=lambda: s2.run('LOCK TABLES executions WRITE;'))
            t2.start()
            waiting_on(watch, 'LOCK TABLES executions%', 1)
            s1.run('UNLOCK TABLES;')
            stopped = waiting_on(watch, 'SELECT e.id, e.workflow_id, '
                                 'COALESCE%', len(jobs), True)
        check('%s: %d requests stop there' % (descr, len(jobs)), stopped)
        busy = busy_children()
        killed = kill9(busy)
        stats['kills'] += killed
        diag('%s: killed %d busy children %s' % (descr, killed, busy))
        check('%s: their children were killed mid-request' % descr,
              killed >= len(jobs), (killed, busy))
    finally:
        s1.run('UNLOCK TABLES;')
        if t2 is not None:
            t2.join(60)
            s2.run('UNLOCK TABLES;')
        for x in (s1, s2, watch):
            x.close()
    for t in threads:
        t.join(300)
    wait_children(nchildren)
    return killed


N = min(3, nchildren - 1)

# A: inside the start's transaction (executions and steps written).
outa = []
window('start of an execute step, killed before COMMIT',
       [lambda: keyed_start(wa['id'], outa) for _ in range(N)], False)
check('A: every retried start ends 201',
      len(outa) == N and all(r and r[0] == 201 for _, r, _ in outa),
      [(r and r[0], seen) for _, r, seen in outa])
check('A: the first attempt failed (502), the retry created it afresh',
      all(seen[0] != 201 and not replayed(r) for _, r, seen in outa),
      [(seen, r and r[1].get('Idempotent-Replayed')) for _, r, seen in outa])

# B: after the start's COMMIT, while its reply is being read.
outb = []
window('start of a prompt step, killed after COMMIT',
       [lambda: keyed_start(wb['id'], outb) for _ in range(N)], True)
check('B: every retried start ends 201',
      len(outb) == N and all(r and r[0] == 201 for _, r, _ in outb),
      [(r and r[0], seen) for _, r, seen in outb])
check('B: the answer was lost (502) and the retry replayed the execution '
      'the killed child had committed',
      all(seen[0] != 201 and replayed(r) for _, r, seen in outb),
      [(seen, r and r[1].get('Idempotent-Replayed')) for _, r, seen in outb])
check('B: one execution per key',
      all(n == 1 for n in executions_per_key([k for k, _, _ in outb])
          .values()))

# C: inside the answer's transaction (the answer written).
eb = [r[2]['id'] for _, r, _ in outb if r and r[0] == 201]
outc = []
window('answer before an execute step, killed before COMMIT',
       [lambda e=e: keyed_answer(e, 0, 'Yes', outc) for e in eb], False)
check('C: each retried answer was recorded by the retry (200)',
      len(outc) == len(eb) and
      all(res == 'answered' and seen[0] != 200 for _, res, seen in outc),
      outc)

# D: after the answer's COMMIT, while its reply is being read.
outd = []
for _ in range(N):
    keyed_start(wd['id'], outd)
ed = [r[2]['id'] for _, r, _ in outd if r and r[0] == 201]
require('D: executions waiting on their first prompt', len(ed) == N, outd)
outd2 = []
window('answer before a prompt, killed after COMMIT',
       [lambda e=e: keyed_answer(e, 0, 'No', outd2) for e in ed], True)
check('D: each retry got 409 naming its own answer (step 0, "No", admin)',
      len(outd2) == len(ed) and
      all(res == 'mine' and seen[0] != 200 for _, res, seen in outd2),
      outd2)
for e in ed:
    keyed_answer(e, 1, 'Yes', [])

# The storm: clients start and answer; random busy children die.
stop = threading.Event()
storm = []


def client():
    while not stop.is_set():
        out = []
        keyed_start(wb['id'], out)
        key, r, seen = out[0]
        storm.append((key, r, seen))
        if r is not None and r[0] == 201:
            keyed_answer(r[2]['id'], 0, random.choice(['Yes', 'No']), [])
        time.sleep(0.3)     # under nginx's 10 starts/s per address


def killer():
    while not stop.is_set():
        b = busy_children()
        if b:
            stats['kills'] += kill9([random.choice(b)])
        time.sleep(random.uniform(0.2, 0.6))


threads = [threading.Thread(target=client) for _ in range(3)] + \
    [threading.Thread(target=killer)]
for t in threads:
    t.start()
time.sleep(float(os.environ.get('PULSE_FAULT_STORM_S', '25')))
stop.set()
for t in threads:
    t.join(300)
wait_children(nchildren)
diag('storm: %d starts; in all %d children killed, %d logical requests '
     'retried, %d replays, %d retried answers found recorded'
     % (len(storm), stats['kills'], stats['retried'], stats['replays'],
        stats['mine']))
check('storm: every start ended 201',
      storm and all(r and r[0] == 201 for _, r, _ in storm),
      [(r and r[0], seen) for _, r, seen in storm if not r or r[0] != 201])

# The tables.
per_key = executions_per_key(keys)
check('each of the %d keys names exactly one execution' % len(keys),
      all(n == 1 for n in per_key.values()),
      [(k, n) for k, n in per_key.items() if n != 1][:10])
total = count_executions(wids)
check('no execution without its key: %d executions for %d keys'
      % (total, len(keys)), total == len(keys), total)
bad = whole_executions(wids, nsteps)
check('no half-written execution (steps, start event, dispatches)', not bad,
      bad[:10])
eids = [r[0] for r in sql("SELECT id FROM executions WHERE workflow_id IN "
                          "('%s', '%s')" % (wb['id'], wd['id']))]
per_answer = answers_recorded(eids)
check('each answered prompt has exactly one recorded answer (%d)'
      % len(per_answer), all(n == 1 for n in per_answer.values()),
      [(k, n) for k, n in per_answer.items() if n != 1][:10])
for e in eids:
    inv.track(e)

inv.check_all()
check('pulse-api has its %d children' % nchildren,
      wait_children(nchildren) is not None)
heal()
inv.cleanup()
done()
