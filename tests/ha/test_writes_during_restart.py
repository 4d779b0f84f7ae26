#!/usr/bin/env python3
"""Writes through both control stacks while database nodes restart
(issue 19, SPEC section 18; DESIGN section 8, invariant 1).

For PULSE_HA_WRITES_S (default 60) seconds four client threads send
starts, prompt answers and cancels, each request to the other stack than
the one before (an execution started through c1 is answered or cancelled
through c2 as often as not). Meanwhile node 1 (c1's preferred) is killed
-9 and started again, then node 2 (c2's). Every 2xx answer is recorded;
afterwards each must be in the database: the execution exists, the
answer is stored with who gave it, the cancel took effect. 5xx and
refused connections are allowed during an outage; a 2xx without its row
never is, nor a 404 for an execution another stack acknowledged (a read
on one node sees what another committed), nor any other 4xx but 429."""

import os
import random
import threading
import time
import uuid

import halib as H
from faultlib import Invariants
from pulse_test import check, diag, done, prompt_step, require

SECONDS = float(os.environ.get('PULSE_HA_WRITES_S', '60'))
THREADS = 4
POOL_MAX = 30     # waiting executions kept to answer or cancel

H.ready()
seed = int(os.environ.get('PULSE_FAULT_SEED', random.SystemRandom().randrange(
    1, 1 << 30)))
diag('seed %d (PULSE_FAULT_SEED=%d repeats this run)' % (seed, seed))

inv = Invariants('ha-writes')
wf = inv.workflow([prompt_step('Go', 'Go on?', ('Yes', 'No'))], 'ha-writes')
require('a prompt workflow', wf)

lock = threading.Lock()
pool = []                 # acknowledged, waiting, not touched yet
answered, cancelled = {}, {}     # eid -> stack that answered 2xx
uncertain = set()         # an answer or cancel without a 2xx
tally = {}                # (op, stack, status) -> count
wrong = []                # answers no outage explains
stop = threading.Event()


def count(op, n, status):
    with lock:
        tally[(op, n, status)] = tally.get((op, n, status), 0) + 1


def allowed(op, status):
    return 200 <= status < 300 or status in (0, 429, 500, 502, 503, 504) \
        or (op != 'start' and status == 409)


def client(k):
    rnd = random.Random(seed + k)
    n = 1 + k % 2
    while not stop.is_set():
        n = 3 - n
        with lock:
            room = len(pool) < POOL_MAX
            eid = None
            op = 'start'
            if pool and (not room or rnd.random() < 0.5):
                eid = pool.pop(rnd.randrange(len(pool)))
                op = 'answer' if rnd.random() < 0.6 else 'cancel'
        if op == 'start':
            r = H.try_on(n, 'POST', '/api/executions', timeout=20,
                         body={'workflow_id': wf['id']},
                         headers={'Idempotency-Key': str(uuid.uuid4())})
            if 200 <= r[0] < 300:
                if not isinstance(r[2], dict) or not r[2].get('id'):
                    wrong.append((op, n, r[0], str(r[2])[:200]))
                else:
                    with lock:
                        inv.ack_execution(r[2]['id'])
                        pool.append(r[2]['id'])
        elif op == 'answer':
            r = H.try_on(n, 'POST', '/api/executions/%s/respond' % eid,
                         timeout=20, body={'response': 'Yes', 'step': 0})
            with lock:
                if 200 <= r[0] < 300:
                    answered[eid] = n
                    inv.ack_answer(eid, 0, 'Yes')
                else:
                    uncertain.add(eid)
        else:
            r = H.try_on(n, 'POST', '/api/executions/%s/cancel' % eid,
                         timeout=20, headers={'Content-Type':
                                              'application/json'})
            with lock:
                if 200 <= r[0] < 300:
                    cancelled[eid] = n
                else:
                    uncertain.add(eid)
        count(op, n, r[0])
        if not allowed(op, r[0]):
            wrong.append((op, n, eid, r[0], str(r[2])[:200]))
        # nginx's limit on starts (10/s per user and stack) is policy:
        # a 429 slows this client down rather than hammering it.
        time.sleep(rnd.uniform(0.3, 0.6) if r[0] == 429 else
                   rnd.uniform(0.02, 0.15))


threads = [threading.Thread(target=client, args=(k,), daemon=True)
           for k in range(THREADS)]
t0 = time.monotonic()
for t in threads:
    t.start()


def until(t):
    while time.monotonic() - t0 < t:
        time.sleep(0.2)


plan = []
for node, kill_at, start_at in ((1, SECONDS * 0.15, SECONDS * 0.35),
                                (2, SECONDS * 0.55, SECONDS * 0.75)):
    until(kill_at)
    H.db_kill(node)
    plan.append('node %d killed at %.1f s' % (node, time.monotonic() - t0))
    until(start_at)
    try:
        H.db_start(node)
        plan.append('node %d started at %.1f s, Synced at %.1f s'
                    % (node, start_at, time.monotonic() - t0))
    except H.HaError as e:
        plan.append('node %d did not start: %s' % (node, e))
until(SECONDS)
stop.set()
for t in threads:
    t.join(30)
diag('; '.join(plan))
ok, cs = H.wait_synced(180)
require('the cluster is whole again (3 nodes, Synced)', ok, cs)

lines = []
for op in ('start', 'answer', 'cancel'):
    for n in (1, 2):
        got = sorted((s, c) for (o, m, s), c in tally.items()
                     if o == op and m == n)
        lines.append('%s via c%d: %s' % (op, n, ', '.join(
            '%s x%d' % (s, c) for s, c in got)))
diag('\n'.join(lines))
n2xx = sum(c for (o, m, s), c in tally.items() if 200 <= s < 300)
require('both stacks answered 2xx to each kind of request', all(
    any(200 <= s < 300 and c for (o, m, s), c in tally.items()
        if o == op and m == n)
    for op in ('start', 'answer', 'cancel') for n in (1, 2)), tally)
check('no answer but 2xx, 409, 429 or an outage\'s 5xx/refusal (a 404 '
      'would be a node not seeing another\'s commit)', not wrong, wrong[:10])

# --- every 2xx is in the database ------------------------------------------------
st = inv.statuses()
missing = [e for e in inv.acked if e not in st]
check('each of %d starts answered 2xx is in the database'
      % len(inv.acked), not missing, missing[:10])
steps = {(s['execution_id'], s['step_index']): s for s in inv.steps()}
bad = []
for e, n in answered.items():
    s = steps.get((e, 0))
    if s is None or s['response'] != 'Yes' or s['responded_by'] != 'admin' \
            or st.get(e, {}).get('status') != 'completed':
        bad.append((e, n, s and (s['response'], s['responded_by']),
                    st.get(e, {}).get('status')))
check('each of %d answers answered 2xx is recorded (response, who) and '
      'its execution completed' % len(answered), not bad, bad[:10])
bad = [(e, n, st.get(e, {}).get('status')) for e, n in cancelled.items()
       if st.get(e, {}).get('status') != 'cancelled']
check('each of %d cancels answered 2xx took effect' % len(cancelled),
      not bad, bad[:10])
both = set(answered) & set(cancelled)
check('no execution both answered and cancelled with a 2xx', not both,
      sorted(both)[:10])
diag('%d 2xx answers in all; %d requests without an outcome (not counted)'
     % (n2xx, len(uncertain)))

# Whatever is still waiting on its prompt (never touched, or touched
# without a 2xx) is left so on purpose.
for e, row in st.items():
    if row['status'] == 'waiting':
        inv.allow_waiting(e)
inv.check_all()
inv.cleanup()
done()
