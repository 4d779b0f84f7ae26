#!/usr/bin/env python3
"""The fault suite's checker can fail: after a clean two-step execution
passes all nine invariants, each kind of damage a fault could do is made
by hand (a command started twice, a result recorded twice, output that
differs by one byte, an invented exit code or success, an acknowledged
execution that vanished, a step that started before the previous one
ended, an answer without who gave it, a schedule's fire recorded twice or
missed without a row saying why) and the invariant that guards against it
must say so; known_output() prints exactly known_bytes()."""

import subprocess

from faultlib import Invariants, check_schedules, known_bytes, known_output
from live import wait_execution
from pulse_test import check, done, prompt_step, require, sql

for s, n in ((1, 0), (7, 65), (12345, 51200), (99, 1024 * 1024 + 10)):
    out = subprocess.run(['sh', '-c', known_output(s, n)],
                         capture_output=True).stdout
    check('known_output(%d, %d) prints known_bytes()' % (s, n),
          out == known_bytes(s, n), (len(out), n))

inv = Invariants('checker')
steps = [inv.execute('one', seed=5, nbytes=3000, targets=['local-1']),
         inv.execute('two', seed=6, nbytes=3000, targets=['local-1'],
                     index=1, cond_prev=True),
         prompt_step('ask')]
e = inv.start(steps)
require('execution started', e is not None)
eid = e['id']
wait_execution(eid, ('waiting',), 60)
from pulse_test import call  # noqa: E402
r = call('POST', '/api/executions/%s/respond' % eid,
         body={'response': 'Yes'})
require('answered', r[0] == 200, r)
inv.ack_answer(eid, 2, 'Yes', 'admin')
require('the execution completed',
        wait_execution(eid, timeout=60)['status'] == 'completed')

results = []


def collect(descr, cond, info=None):
    results.append((descr, bool(cond)))
    return bool(cond)


def failing(fn, *args):
    """Run one invariant with the collector; the names of those failing."""
    del results[:]
    inv.check = collect
    try:
        fn(*args)
    finally:
        inv.check = check
    return [d for d, ok in results if not ok]


def snapshot():
    return inv.statuses(), inv.dispatches(), inv.steps()


st, ds, steps_ = snapshot()
require('a clean run passes all nine', inv.check_all(settle=False))

d0 = [d for d in ds if d['step_index'] == 0][0]
cid = d0['id']

# 1: an acknowledged execution that does not exist.
inv.acked.add('00000000-0000-4000-8000-000000000000')
inv.executions.append('00000000-0000-4000-8000-000000000000')
check('invariant 1 fails for a vanished acknowledged execution',
      failing(inv.inv1, inv.statuses()))
inv.acked.discard('00000000-0000-4000-8000-000000000000')
inv.executions.remove('00000000-0000-4000-8000-000000000000')

# 2: a dispatch still open in a final execution.
open_ds = [dict(d, status='running') if d['id'] == cid else d for d in ds]
check('invariant 2 fails for a dispatch left running',
      failing(inv.inv2, st, open_ds, []))

# 3: a start written twice.
line = open(inv.ledger.path).read().split('\n')[0]
with open(inv.ledger.path, 'a') as f:
    f.write(line + '\n')
check('invariant 3 fails for a command started twice',
      failing(inv.inv3, ds))
with open(inv.ledger.path) as f:
    lines = [x for x in f.read().split('\n') if x]
with open(inv.ledger.path, 'w') as f:
    f.write(''.join(x + '\n' for x in lines if x != line))
check('invariant 3 fails for a started dispatch missing from the ledger',
      failing(inv.inv3, ds))
with open(inv.ledger.path, 'w') as f:
    f.write(''.join(x + '\n' for x in lines[:-1]))
require('the ledger is whole again', not failing(inv.inv3, ds))

# 4: a result event recorded twice.
sql("INSERT INTO events (type, execution_id, payload) SELECT type, "
    "execution_id, payload FROM events WHERE type = 'dispatch_status' AND "
    "execution_id = '%s' AND JSON_VALUE(payload, '$.status') = 'succeeded' "
    "LIMIT 1" % eid)
check('invariant 4 fails for a result event twice', failing(inv.inv4, ds))

# 5: one byte of output changed.
sql("UPDATE dispatches SET stdout = CONCAT('X', SUBSTRING(stdout, 2)) "
    "WHERE id = '%s'" % cid)
check('invariant 5 fails for output one byte off',
      failing(inv.inv5, inv.dispatches()))
sql("UPDATE dispatches SET stdout_bytes = stdout_bytes + 1 WHERE id = '%s'"
    % cid)

# 6: an invented exit code; a lost command recorded as success.
check('invariant 6 fails for an exit code that is not the real one',
      failing(inv.inv6, st, [dict(d, exit_code=7) if d['id'] == cid else d
                             for d in ds]))
check('invariant 6 fails for success without a ledger line',
      failing(inv.inv6, st, [dict(d, attempt=9) if d['id'] == cid else d
                             for d in ds]))

# 7: the second step queued before the first one ended; its condition
#    not seeing the first step's success.
late = [dict(d, finished_at='2999-01-01 00:00:00.000000')
        if d['id'] == cid else d for d in ds]
check('invariant 7 fails for a step started before the previous one ended',
      failing(inv.inv7, late, steps_))
skipped = [dict(s, status='skipped') if s['step_index'] == 1 else s
           for s in steps_]
check('invariant 7 fails for a condition that did not see its step',
      failing(inv.inv7, ds, skipped))

# 8: an answer without who gave it; an acknowledged answer not kept.
check('invariant 8 fails for an answer without responded_by',
      failing(inv.inv8, [dict(s, responded_by=None)
                         if s['type'] == 'prompt' else s for s in steps_]))
inv.answers[(eid, 2)] = ('No', 'admin')
check('invariant 8 fails for an acknowledged answer not recorded',
      failing(inv.inv8, steps_))
inv.answers[(eid, 2)] = ('Yes', 'admin')

# 9: the database holds an event the browser never got (written without
#    pushd's feed noticing: a row far below its cursor).
sql("UPDATE events SET type = 'execution_status', payload = "
    "JSON_SET(payload, '$.type', 'execution_status', '$.status', "
    "'cancelled') WHERE execution_id = '%s' AND type = 'execution_status' "
    "ORDER BY id DESC LIMIT 1" % eid)
check('invariant 9 fails when the last status a browser sees is not the '
      "execution's", failing(inv.inv9, inv.statuses()))

# Schedules: no fire twice, no fire missed without a record. Rows made by
# hand on a disabled schedule: four minutes, one started (this file's
# execution, started_by made to match), three missed with a reason.
wf_id = sql("SELECT workflow_id FROM executions WHERE id = '%s'" % eid)[0][0]
r = call('POST', '/api/schedules', body={
    'workflow_id': wf_id, 'name': 'checker-' + eid[:8], 'cron': '* * * * *',
    'enabled': False})
require('a schedule for the schedule invariants', r[0] == 201, r)
sid = r[2]['id']
sql("UPDATE executions SET started_by = 'schedule:checker-%s' WHERE id = "
    "'%s'" % (eid[:8], eid))
T = 1800000000
for i in range(4):
    sql("INSERT INTO schedule_fires (schedule_id, fire_time, execution_id, "
        "outcome, reason) VALUES ('%s', FROM_UNIXTIME(%d), %s, '%s', %s)"
        % (sid, T + 60 * i, "'%s'" % eid if i == 3 else 'NULL',
           'started' if i == 3 else 'missed',
           'NULL' if i == 3 else "'missed: by hand'"))


def sched_failing(**kw):
    del results[:]
    check_schedules([sid], every=60, check_fn=collect, **kw)
    return [d for d, ok in results if not ok]


check('schedule invariants hold for rows that are whole',
      sched_failing(upto=T + 180) == [], sched_failing(upto=T + 180))
sql("UPDATE schedule_fires SET reason = NULL WHERE schedule_id = '%s' AND "
    "fire_time = FROM_UNIXTIME(%d)" % (sid, T + 60))
check('S2 fails for a missed fire without a reason',
      any('S2' in d for d in sched_failing(upto=T + 180)))
sql("DELETE FROM schedule_fires WHERE schedule_id = '%s' AND fire_time = "
    "FROM_UNIXTIME(%d)" % (sid, T + 60))
check('S2 fails for a fire time with no row',
      any('S2' in d for d in sched_failing(upto=T + 180)))
check('S2 fails for fire times due after the last row',
      any('S2' in d for d in sched_failing(upto=T + 300)))
sql("UPDATE schedule_fires SET execution_id = '%s' WHERE schedule_id = '%s' "
    "AND fire_time = FROM_UNIXTIME(%d)" % (eid, sid, T + 120))
check('S1 fails for one execution on two fires',
      any('S1' in d for d in sched_failing(upto=T + 180)))
sql("UPDATE schedule_fires SET execution_id = NULL WHERE schedule_id = '%s'"
    % sid)
check('S1 fails for an execution by the schedule without its fire row',
      any('S1' in d for d in sched_failing(upto=T + 180)))
call('DELETE', '/api/schedules/' + sid)

sql("DELETE FROM events WHERE execution_id = '%s'" % eid)
inv.cleanup()
done()
