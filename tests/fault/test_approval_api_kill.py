#!/usr/bin/env python3
"""kill -9 of the pulse-api child inside an approval's transaction (SPEC
section 15): with the events table locked by a SQL session, a decision
stops at its first event, after its approvals row is written and before
its audit row and COMMIT. The busy children are killed there, the lock
goes, and the approvers retry as a careful client does. Then: no
approvals row and no audit row of the killed attempt (nothing
half-written), each retried approval is recorded once (200), the
execution starts once (one dispatch per target, one start in the
ledger, one running event) and DESIGN section 8's invariants hold."""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))

from apifault import (Session, busy_children, kill9,  # noqa: E402
                      retrying, wait_children)
from faultlib import Invariants  # noqa: E402
from live import online  # noqa: E402
from pulse_test import (at_end, call, check, ctl_pids, diag,  # noqa: E402
                        done, have_ctl, origin, require, sql, unique,
                        wait_for)

require('PULSE_CTL and PULSE_STACK are set',
        have_ctl() and os.environ.get('PULSE_STACK'))
require('worker local-1 is online', online('local-1', 60))
nchildren = len(ctl_pids('api-children'))
require('pulse-api has at least 3 children', nchildren >= 3, nchildren)

inv = Invariants('approval-kill')
step = inv.execute('Run', seed=15, nbytes=2000, targets=['local-1'])
r = call('POST', '/api/workflows', body={
    'name': unique('apprkill'),
    'definition': {'approval': {'required': 1, 'approvers': ['leads']},
                   'steps': [step]}})
require('a workflow needing one lead', r[0] == 201, r)
wid = r[2]['id']
at_end(lambda: call('DELETE', '/api/workflows/' + wid))
APPROVERS = ['bob', 'carol']
execs = {}
for who in APPROVERS:
    e = inv.start(wid)
    require('started one for %s to approve' % who,
            e and e['status'] == 'awaiting_approval', e)
    execs[who] = (e['id'], e['plan_hash'])
results = {}


def approve(who):
    eid, h = execs[who]
    results[who] = retrying('POST', '/api/executions/%s/approve' % eid,
                            body={'plan_hash': h, 'decision': 'approve'},
                            user=(who, who))


def waiting_inserts(watch, n):
    rows = watch.run("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                     "WHERE STATE LIKE '%metadata lock%' "
                     "AND INFO LIKE 'INSERT INTO events%';")
    return int(rows[0]) >= n and len(busy_children()) >= n


lock, watch = Session(), Session()
lock.run('LOCK TABLES events WRITE;')
threads = [threading.Thread(target=approve, args=(w,)) for w in APPROVERS]
killed = 0
try:
    for t in threads:
        t.start()
    stopped = wait_for(lambda: waiting_inserts(watch, len(APPROVERS)) and
                       (time.sleep(0.1) or
                        waiting_inserts(watch, len(APPROVERS))), 30, 0.02)
    check('both approvals stop inside their transaction (approvals row '
          'written, event waiting)', stopped)
    written = sql("SELECT COUNT(*) FROM approvals WHERE execution_id IN "
                  "('%s', '%s')" % tuple(e for e, _ in execs.values()))
    check('... and nothing of theirs is committed yet', written == [['0']],
          written)
    busy = busy_children()
    killed = kill9(busy)
    diag('killed %d busy children %s' % (killed, busy))
    check('their children were killed mid-transaction',
          killed >= len(APPROVERS), (killed, busy))
finally:
    lock.run('UNLOCK TABLES;')
    lock.close()
    watch.close()
for t in threads:
    t.join(300)
wait_children(nchildren)

for who in APPROVERS:
    eid, h = execs[who]
    r, seen = results.get(who, (None, []))
    check('%s: the first attempt failed, the retry was answered 200' % who,
          r is not None and r[0] == 200 and seen and seen[0] != 200, seen)
    rows = sql("SELECT approver, decision FROM approvals "
               "WHERE execution_id = '%s'" % eid)
    check('%s: exactly one approvals row, theirs' % who,
          rows == [[who, 'approve']], rows)
    audit = sql("SELECT actor FROM audit_log WHERE target_id = '%s' "
                "AND action = 'execution.approve'" % eid)
    check('%s: exactly one audit row' % who, audit == [[who]], audit)
    running = sql("SELECT COUNT(*) FROM events WHERE execution_id = '%s' "
                  "AND type = 'execution_status' "
                  "AND JSON_VALUE(payload, '$.status') = 'running'" % eid)
    check('%s: the execution started once (one running event)' % who,
          running == [['1']], running)

for who in APPROVERS:
    eid, _ = execs[who]
    wait_for(lambda: sql("SELECT status FROM executions WHERE id = '%s'" %
                         eid) == [['completed']], 60, 0.2)
    d = sql("SELECT COUNT(*) FROM dispatches WHERE execution_id = '%s'" % eid)
    check('%s: one dispatch for its one target' % who, d == [['1']], d)
r = call('GET', '/api/audit/verify')
check('the audit chain verifies', r[0] == 200 and r[2].get('ok'), r)


def feed_caught_up():
    """pushd's event feed has reached the newest event: the killed
    transactions left holes in the ids, which it waits out before
    passing them (pushd/dbt-poll.c)."""
    import wsclient
    top = int(sql('SELECT COALESCE(MAX(id), 0) FROM events')[0][0])
    ws = wsclient.connect('/ws', 'pulse-browser',
                          headers={'Origin': origin()},
                          auth=('admin', 'admin'), timeout=15)
    try:
        hello = ws.recv_json(15) or {}
    finally:
        ws.close()
    return int(hello.get('last_event_id') or 0) >= top


check('pushd\'s event feed catches up past the holes',
      wait_for(feed_caught_up, 60, 1))
inv.check_all()
inv.cleanup()
done()
