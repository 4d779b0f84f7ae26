#!/usr/bin/env python3
"""kill -9 of one Galera node in the middle of a long execution (issue 19,
SPEC section 18), for each of the three nodes in turn.

Each round: an execution of PULSE_HA_STEPS (default 100) known steps on
both workers (group demo: ha-1 and ha-2, faultlib's step commands and
ledger) is started through one control stack; once it is a random way
into its steps, database node N is killed -9. Every control stack keeps
answering (the one preferring node N reconnects to another), the
execution completes, DESIGN section 8's invariants hold (faultlib's
checker, reading from a live node); then node N is started again and
rejoins: a cluster of 3, every node Synced, and it holds the execution's
rows as they are on the others."""

import os
import random
import time

import halib as H
from faultlib import Invariants
from pulse_test import check, diag, done, require, wait_for

STEPS = int(os.environ.get('PULSE_HA_STEPS', '100'))
seed = int(os.environ.get('PULSE_FAULT_SEED', random.SystemRandom().randrange(
    1, 1 << 30)))
diag('seed %d (PULSE_FAULT_SEED=%d repeats this run)' % (seed, seed))
rnd = random.Random(seed)

H.ready()


def current_step(eid):
    try:
        rows = H.sql_any("SELECT current_step, status FROM executions "
                         "WHERE id = '%s'" % eid)
    except Exception:
        return None, None
    if not rows:
        return None, None
    return int(rows[0][0] or 0), rows[0][1]


def fingerprint(n, eid):
    """What node n holds of one execution: counts and a digest of its
    dispatches' outcomes and its events."""
    return H.sql_on(n, (
        "SET SESSION group_concat_max_len = 16777216; "
        "SELECT (SELECT status FROM executions WHERE id = '{e}'), "
        "(SELECT COUNT(*) FROM dispatches WHERE execution_id = '{e}'), "
        "(SELECT SHA2(GROUP_CONCAT(id, status, COALESCE(exit_code, '-'), "
        "COALESCE(stdout_sha256, '-') ORDER BY id), 256) FROM dispatches "
        "WHERE execution_id = '{e}'), "
        "(SELECT COUNT(*) FROM events WHERE execution_id = '{e}'), "
        "(SELECT SHA2(GROUP_CONCAT(id, type ORDER BY id), 256) FROM events "
        "WHERE execution_id = '{e}')").format(e=eid))


for node in H.NODES:
    t0 = time.monotonic()
    inv = Invariants('ha-db-%d' % node)
    steps = [inv.execute('s%d' % i, seed=seed % 100000 + i, nbytes=1500,
                         targets=['demo'], timeout_ms=60000)
             for i in range(STEPS)]
    wf = inv.workflow(steps, 'ha-dbkill')
    require('round %d: a workflow of %d steps' % (node, STEPS), wf)
    via = 1 + node % 2          # start through the other node's stack too
    r = H.call_on(via, 'POST', '/api/executions',
                  body={'workflow_id': wf['id']})
    require('round %d: execution started through stack %d' % (node, via),
            r[0] == 201 and isinstance(r[2], dict), r)
    eid = r[2]['id']
    inv.ack_execution(eid)
    at = rnd.randrange(max(1, STEPS // 5), max(2, STEPS * 3 // 5))
    got = wait_for(lambda: (current_step(eid)[0] or 0) >= at or
                   current_step(eid)[1] not in ('running', None), 240, 0.2)
    cur, status = current_step(eid)
    require('round %d: the execution reached step %d (at %s)'
            % (node, at, cur), got and status == 'running',
            (cur, status))
    tk = time.monotonic()
    H.db_kill(node)
    diag('round %d: node %d killed -9 at step %s' % (node, node, cur))
    others = [n for n in H.NODES if n != node]
    check('round %d: the other two nodes stay Synced in a cluster of 2'
          % node, wait_for(lambda: all(
              (H.node_status(n) or {}).get('size') == 2 and
              (H.node_status(n) or {}).get('state') == 'Synced'
              for n in others), 60, 0.5),
          {n: H.node_status(n) for n in others})
    check('round %d: both control stacks answer /health with node %d down'
          % (node, node), wait_for(lambda: H.healthy(1) and H.healthy(2),
                                   30, 0.5),
          [H.healthy(1), H.healthy(2)])
    left = inv.wait_final(timeout=STEPS * 4 + 120)
    st = inv.statuses().get(eid, {})
    check('round %d: the execution completed with node %d down (%s after '
          'the kill)' % (node, node, H.since(tk)),
          not left and st.get('status') == 'completed', st)
    inv.check_all(settle=False)
    try:
        H.db_start(node)
        started = True
    except Exception as e:
        started = False
        diag('db-start %d: %s' % (node, e))
    ok, cs = H.wait_synced(180)
    check('round %d: node %d restarted and rejoined: cluster of 3, all '
          'Synced' % (node, node), started and ok, cs)
    prints = {}
    for n in H.NODES:
        try:
            prints[n] = fingerprint(n, eid)
        except Exception as e:
            prints[n] = str(e)
    check('round %d: node %d holds the execution exactly as the others '
          '(its dispatches and events)' % (node, node),
          prints[1] == prints[2] == prints[3], prints)
    log = os.path.join(H.HA_DIR, 'db%d' % node, 'log')
    how = []
    for name in sorted(os.listdir(log)) if os.path.isdir(log) else []:
        try:
            with open(os.path.join(log, name), errors='replace') as f:
                text = f.read()[-200000:]
        except OSError:
            continue
        if 'IST received' in text or 'Receiving IST' in text:
            how.append('IST')
        elif 'SST' in text:
            how.append('SST')
    diag('round %d: node %d caught up by %s; round took %s'
         % (node, node, how[-1] if how else '?', H.since(t0)))
    inv.cleanup()
    require('round %d: ha-1 and ha-2 online for the next round' % node,
            H.online(H.WORKERS, 1, 60))
done()
