#!/usr/bin/env python3
"""Retention: pushd's sweep deletes finished executions (with their steps,
dispatches and output) and events older than RETENTION_DAYS (30 on the
test stack), in batches of 500, while executions keep running; running
and waiting executions stay however old their dates, newer ones stay, and
workers stay when WORKER_PRUNE_DAYS is 0. The test stack sweeps every
2 s (PULSE_RETENTION_INTERVAL_S in pulse-dev's stack_env); against a stack
with the default 60 s it waits longer."""

import uuid

from live import execute, execution, online, run, wait_execution, \
    wait_step
from pulse_test import call, check, diag, done, have_ctl, prompt_step, \
    require, sql, wait_for

SYNTHETIC = 1200	# executions and events: more than two batches
SWEEP_WAIT = 150	# s: a 60 s interval, three batches, and slack

require('PULSE_CTL is set (the test backdates rows)', have_ctl())
require('local-1 online', online('local-1') is not None)


def count(q):
    rows = sql(q)
    return int(rows[0][0]) if rows else -1


def ids_sql(ids):
    return ','.join("'%s'" % i for i in ids)


# Finished executions to age, one to keep young.
old = []
for i in range(3):
    e = run([execute('echo', 'echo old-%d' % i, ['local-1'])],
            prefix='retention')
    require('an execution starts', e is not None)
    e = wait_execution(e['id'])
    check('execution %d completed' % i, e and e['status'] == 'completed', e)
    old.append(e['id'])
young = run([execute('echo', 'echo young', ['local-1'])], prefix='retention')
young = wait_execution(young['id'])
check('the young execution completed', young['status'] == 'completed',
      young)

# Unfinished executions, kept whatever their dates say: one waiting on a
# prompt, one running a command that outlives the sweep and then a step.
waiting = run([prompt_step('Ask', options=('Go',)),
               execute('after', 'echo answered', ['local-1'])],
              prefix='retention')
waiting = wait_step(waiting['id'], 0, ('waiting',))
check('an execution waits on its prompt',
      waiting and waiting['status'] == 'waiting', waiting)
running = run([execute('slow', 'sleep 6; echo slow-done', ['local-1']),
               execute('next', 'echo next-done', ['local-1'])],
              prefix='retention')
running = wait_step(running['id'], 0, ('running',))
check('an execution is running', running and running['status'] == 'running',
      running)

dispatches_of_old = count(
    'SELECT COUNT(*) FROM dispatches WHERE execution_id IN (%s)'
    % ids_sql(old))
check('the old executions have dispatches to lose', dispatches_of_old == 3,
      dispatches_of_old)

# Age them: 31 days for the finished ones and their events, 100 days
# for the unfinished ones (and a completed_at on the waiting one, which
# must not matter either).
sql("UPDATE executions SET started_at = NOW(3) - INTERVAL 31 DAY, "
    "completed_at = NOW(3) - INTERVAL 31 DAY WHERE id IN (%s)" % ids_sql(old))
sql("UPDATE events SET created_at = NOW(3) - INTERVAL 31 DAY "
    "WHERE execution_id IN (%s)" % ids_sql(old))
sql("UPDATE executions SET started_at = NOW(3) - INTERVAL 100 DAY, "
    "completed_at = NOW(3) - INTERVAL 100 DAY WHERE id = '%s'"
    % waiting['id'])
sql("UPDATE executions SET started_at = NOW(3) - INTERVAL 100 DAY "
    "WHERE id = '%s'" % running['id'])
tag = uuid.uuid4().hex[:8]
# The sweeper runs every 2 s here and may start on these rows at once:
# count what the INSERTs wrote, in their own session, not what is left.
made = sql("INSERT INTO executions (id, kind, status, started_by, "
           "started_at, completed_at) SELECT UUID(), 'command', "
           "'completed', 'ret-%s', NOW(3) - INTERVAL 40 DAY, "
           "NOW(3) - INTERVAL 40 DAY - INTERVAL seq SECOND "
           "FROM seq_1_to_%d; SELECT ROW_COUNT()" % (tag, SYNTHETIC))
made_ev = sql("INSERT INTO events (type, payload, created_at) SELECT "
              "'retention_test_%s', '{}', NOW(3) - INTERVAL 40 DAY "
              "FROM seq_1_to_%d; SELECT ROW_COUNT()" % (tag, SYNTHETIC))
sql("INSERT INTO events (type, payload) VALUES ('retention_test_%s', '{}')"
    % tag)
# A hook's attempts (common/trigger-log.c): old ones go, a new one stays.
trg = 'ret-trg-' + tag
sql("INSERT INTO trigger_deliveries (trigger_id, status, outcome, reason, "
    "at) SELECT '%s', 401, 'refused', 'old', NOW(3) - INTERVAL 40 DAY "
    "FROM seq_1_to_20" % trg)
sql("INSERT INTO trigger_deliveries (trigger_id, status, outcome, reason) "
    "VALUES ('%s', 401, 'refused', 'new')" % trg)
# An offline worker, silent for a year: WORKER_PRUNE_DAYS is 0 here.
wname = 'retention-' + tag
wid = str(uuid.uuid4())
sql("INSERT INTO workers (id, name, status, last_heartbeat) VALUES "
    "('%s', '%s', 'offline', NOW() - INTERVAL 365 DAY)" % (wid, wname))
check('%d old executions and events were written' % SYNTHETIC,
      made == [[str(SYNTHETIC)]] and made_ev == [[str(SYNTHETIC)]],
      (made, made_ev))


def swept():
    n = count("SELECT (SELECT COUNT(*) FROM executions WHERE id IN (%s) "
              "OR started_by = 'ret-%s') + (SELECT COUNT(*) FROM events "
              "WHERE type = 'retention_test_%s' AND created_at < NOW(3) - "
              "INTERVAL 1 DAY)" % (ids_sql(old), tag, tag))
    return n == 0


check('the sweep deletes every old execution and event',
      wait_for(swept, SWEEP_WAIT, 0.5))

for eid in old:
    r = call('GET', '/api/executions/' + eid)
    check('old execution is gone from the API (404)', r[0] == 404, r[0])
left = count("SELECT (SELECT COUNT(*) FROM dispatches WHERE execution_id "
             "IN (%s)) + (SELECT COUNT(*) FROM execution_steps WHERE "
             "execution_id IN (%s)) + (SELECT COUNT(*) FROM events WHERE "
             "execution_id IN (%s))" % (ids_sql(old), ids_sql(old),
                                        ids_sql(old)))
check('their steps, dispatches and events went with them', left == 0, left)
check('old trigger deliveries are deleted, the new one kept',
      wait_for(lambda: sql("SELECT reason FROM trigger_deliveries WHERE "
                           "trigger_id = '%s'" % trg) == [['new']],
               SWEEP_WAIT, 0.5))
check('the new event is kept',
      count("SELECT COUNT(*) FROM events WHERE type = 'retention_test_%s'"
            % tag) == 1)
check('the young execution is kept', execution(young['id']) is not None)
check('the worker offline for a year is kept (WORKER_PRUNE_DAYS=0)',
      count("SELECT COUNT(*) FROM workers WHERE id = '%s'" % wid) == 1)

# The unfinished ones carried on through the sweep.
e = execution(waiting['id'])
check('the waiting execution is kept and still waiting',
      e and e['status'] == 'waiting', e and e['status'])
r = call('POST', '/api/executions/%s/respond' % waiting['id'],
         body={'response': 'Go'})
check('its prompt can still be answered', r[0] == 200, r)
e = wait_execution(waiting['id'])
check('and it completes', e and e['status'] == 'completed', e)
e = wait_execution(running['id'])
check('the running execution is kept and completes both steps',
      e and e['status'] == 'completed' and
      all(s['status'] == 'succeeded' for s in e['steps']), e)
out = ''.join(d.get('stdout') or '' for s in (e or {}).get('steps', [])
              for d in s.get('dispatches') or [])
check('with its output', 'slow-done' in out and 'next-done' in out, out)

r = call('DELETE', '/api/workers/' + wid)
if r[0] != 200:
    diag('could not delete worker %s: %s' % (wname, r[0]))
sql("DELETE FROM events WHERE type = 'retention_test_%s'" % tag)
sql("DELETE FROM trigger_deliveries WHERE trigger_id = '%s'" % trg)
done()
