#!/usr/bin/env python3
"""Both pushd claim the same timers (issue 19, DESIGN sections 4 and 12):
for PULSE_HA_TIMERS_S (default 60) seconds executions are started
alternately through c1 and c2 whose work is all timers, each claimed by
whichever pushd gets there first on its own Galera node:

- wait steps (three of 150..600 ms each): woken by a pushd's poll;
- approval deadlines (expires_in 1 s, nobody approves): expired by one;
- command deadlines: one execute step with a 1 s timeout on a worker that
  is only a websocket on c1 and never says it started anything: timed
  out at timeout + grace by one pushd's expiry;
- schedules: four every-minute schedules while the schedulers' test
  clock (DIR/c1/clock and DIR/c2/clock, the same offset) steps a minute
  every few seconds: each fire time fired by one pushd.

Nothing is done twice, and the rows prove it: per wait step one
step_status 'succeeded' event, per execution one final execution_status
event, per expired approval one 'expired' event, per overdue command one
final dispatch_status event and one execute_command on the socket, per
(schedule, minute) one fire row and one execution (faultlib's schedule
invariants); then DESIGN section 8's invariants over the executions."""

import os
import random
import threading
import time

import halib as H
from faultlib import (_chunks, _in_list, Invariants, check_schedules,
                      schedule_fires)
from pulse_test import (SchedClock, WsWorker, at_end, call, check, diag,
                        done, enroll_accepted, require, unique, wait_for)

SECONDS = float(os.environ.get('PULSE_HA_TIMERS_S', '60'))
FAKE = unique('ha-mute')
GROUP = 'hamute'

H.ready()
rnd = random.Random(int(os.environ.get('PULSE_FAULT_SEED', '0')) or None)


class HaClock(SchedClock):
    """The schedulers' test clock of both control stacks at once."""

    def __init__(self):
        self.others = [os.path.join(H.stack_dir(2), 'clock')]
        SchedClock.__init__(self)

    def set(self, t, back=False):
        SchedClock.set(self, t, back)
        for p in self.others:
            with open(p + '.tmp', 'w') as f:
                f.write('%d\n' % self.offset)
            os.rename(p + '.tmp', p)

    def quiet(self):
        for p in self.others:
            if os.path.exists(p):
                os.remove(p)
        SchedClock.quiet(self)


def grace_ms():
    try:
        with open(os.path.join(H.stack_dir(1), 'pulse.env')) as f:
            for line in f:
                if line.startswith('PULSE_DISPATCH_GRACE_MS='):
                    return int(line.split('=', 1)[1])
    except (OSError, ValueError):
        pass
    return 30000


GRACE_MS = grace_ms()
# Command deadlines are started while there is time for them to pass.
DEADLINE_UNTIL = max(5.0, SECONDS - (GRACE_MS + 1000) / 1000.0 + 5)

# --- the worker that never answers (on c1) -----------------------------------
wid, key = enroll_accepted(FAKE, [GROUP])
fake = WsWorker(FAKE, groups=[GROUP], key=key, worker_id=wid)
require('a mute worker (a websocket on c1) is accepted',
        fake.state(15) == 'accepted', FAKE)
commands, fstop = [], threading.Event()


def fake_reader():
    while not fstop.is_set():
        try:
            m = fake.ws.recv_json(1)     # answers pings as they come
        except Exception as e:  # closed: counted below
            commands.append({'type': '_closed', 'error': str(e)})
            return
        if m is not None and m.get('type') == 'execute_command':
            commands.append(m)


ft = threading.Thread(target=fake_reader, daemon=True)
ft.start()

# --- workflows ----------------------------------------------------------------
inv = Invariants('ha-timers')


def workflow(prefix, definition):
    r = call('POST', '/api/workflows',
             body={'name': unique(prefix), 'definition': definition})
    require('a workflow %s' % prefix, r[0] == 201, r)
    w = r[2]['id']
    at_end(lambda: call('DELETE', '/api/workflows/' + w))
    return w


w_wait = workflow('ha-waits', {'steps': [
    {'name': 'w%d' % i, 'type': 'wait', 'duration': 150 + 150 * i}
    for i in range(3)]})
w_appr = workflow('ha-expire', {
    'approval': {'required': 1, 'approvers': ['admin'], 'expires_in': 1000},
    'steps': [{'name': 'w', 'type': 'wait', 'duration': 0}]})
w_dead = workflow('ha-deadline', {'steps': [
    {'name': 'mute', 'type': 'execute', 'targets': [GROUP],
     'command': 'true', 'timeout': 1000}]})
w_sched = workflow('ha-sched', {'steps': [
    {'name': 'w', 'type': 'wait', 'duration': 0}]})

clock = HaClock()
sids = []
for i in range(4):
    r = call('POST', '/api/schedules', body={
        'workflow_id': w_sched, 'name': unique('ha-sch'),
        'cron': '* * * * *', 'overlap': 'allow'})
    require('a schedule', r[0] == 201, r)
    sids.append(r[2]['id'])
    clock.keep(sids[-1])
    at_end(lambda s=sids[-1]: call('DELETE', '/api/schedules/' + s))

# --- the loop -------------------------------------------------------------------
kinds = {'wait': [], 'approval': [], 'deadline': []}
refused = []
minutes = []
t0 = time.monotonic()
next_clock = t0 + 2
k = 0
tries = {kind: 0 for kind in kinds}     # each kind alternates c1, c2
while time.monotonic() - t0 < SECONDS:
    k += 1
    todo = [('wait', w_wait)]
    if k % 3 == 0:
        todo.append(('approval', w_appr))
    if k % 4 == 0 and time.monotonic() - t0 < DEADLINE_UNTIL:
        todo.append(('deadline', w_dead))
    for kind, w in todo:
        tries[kind] += 1
        n = 1 + tries[kind] % 2
        r = H.try_on(n, 'POST', '/api/executions', body={'workflow_id': w})
        if r[0] == 201:
            kinds[kind].append((r[2]['id'], n))
            if kind != 'approval':   # expired is final, not faultlib's
                inv.ack_execution(r[2]['id'])
        else:
            refused.append((kind, n, r[0], str(r[2])[:200]))
    if time.monotonic() >= next_clock:
        minutes.append(clock.next_minute())
        next_clock = time.monotonic() + 6
    time.sleep(rnd.uniform(0.3, 0.7))
diag('started %d wait, %d approval, %d deadline executions through both '
     'stacks in %s; %d schedule minutes' % (
         len(kinds['wait']), len(kinds['approval']), len(kinds['deadline']),
         H.since(t0), len(minutes)))
check('every start was answered 201 (%d refused)' % len(refused),
      not refused, refused[:5])
require('both stacks started some of each',
        all({n for _, n in v} == {1, 2} for v in kinds.values()),
        {k: len(v) for k, v in kinds.items()})

# --- settle -----------------------------------------------------------------------
last = minutes[-1] if minutes else None
ok_sched = wait_for(lambda: all(any(f[0] == last for f in schedule_fires(s))
                                for s in sids), 60, 0.5) if last else False
for s in sids:
    call('PUT', '/api/schedules/' + s, body={'enabled': False})
left = inv.wait_final(timeout=(GRACE_MS + 1000) / 1000.0 + 90)
appr = [e for e, _ in kinds['approval']]


def statuses(ids):
    out = {}
    for ch in _chunks(ids):
        for r in H.sql_any("SELECT id, status FROM executions WHERE id IN "
                           "(%s)" % _in_list(ch)):
            out[r[0]] = r[1]
    return out


wait_for(lambda: all(v == 'expired' for v in statuses(appr).values()),
         30, 0.5)
fstop.set()
ft.join(5)


def grouped(sql_tpl, ids):
    rows = []
    for ch in _chunks(ids):
        rows += H.sql_any(sql_tpl % _in_list(ch))
    return rows


# --- wait steps: one wake each ---------------------------------------------------
wids = [e for e, _ in kinds['wait']]
st = statuses(wids)
check('all %d wait executions completed' % len(wids),
      all(st.get(e) == 'completed' for e in wids),
      [(e, st.get(e)) for e in wids if st.get(e) != 'completed'][:10])
rows = grouped("SELECT execution_id, JSON_VALUE(payload, '$.step'), "
               "COUNT(*) FROM events WHERE type = 'step_status' AND "
               "JSON_VALUE(payload, '$.status') = 'succeeded' AND "
               "execution_id IN (%s) GROUP BY 1, 2", wids)
per = {(r[0], r[1]): int(r[2]) for r in rows}
bad = [(e, i, per.get((e, str(i)), 0)) for e in wids for i in range(3)
       if per.get((e, str(i)), 0) != 1]
check('each of %d wait steps woke exactly once (one step_status '
      "'succeeded' event each)" % (3 * len(wids)), not bad, bad[:10])
rows = grouped("SELECT execution_id, step_index, status, "
               "TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) "
               "FROM execution_steps WHERE execution_id IN (%s)", wids)
early = [r for r in rows if r[2] != 'succeeded' or r[3] in (None, 'NULL')
         or int(r[3]) < (150 + 150 * int(r[1])) * 1000 - 2000]
check('every wait step succeeded, none before its duration', not early,
      early[:10])

# --- final status events: one per execution ----------------------------------------
allids = wids + appr + [e for e, _ in kinds['deadline']]
rows = grouped("SELECT execution_id, JSON_VALUE(payload, '$.status'), "
               "COUNT(*) FROM events WHERE type = 'execution_status' AND "
               "JSON_VALUE(payload, '$.status') IN ('completed', 'failed', "
               "'cancelled', 'expired', 'rejected') AND execution_id IN (%s) "
               "GROUP BY 1, 2", allids)
finals = {}
for e, s, c in rows:
    finals.setdefault(e, []).append((s, int(c)))
bad = [(e, finals.get(e)) for e in allids
       if len(finals.get(e, [])) != 1 or finals[e][0][1] != 1]
check('each of %d executions has exactly one final execution_status event'
      % len(allids), not bad, bad[:10])
for e, _ in bad[:3]:
    # What a double looks like in the rows: each event's id (Galera's
    # auto_increment_offset says which node wrote it) and the execution's
    # lock_rev (sql/016), one per committed engine transaction.
    diag('%s: events %s; execution %s' % (e, H.sql_any(
        "SELECT id, JSON_VALUE(payload, '$.status'), "
        "DATE_FORMAT(created_at, '%%H:%%i:%%s.%%f') FROM events WHERE "
        "execution_id = '%s' AND type = 'execution_status' ORDER BY id"
        % e), H.sql_any("SELECT status, lock_rev FROM executions WHERE "
                        "id = '%s'" % e)))

# --- approval deadlines ------------------------------------------------------------
st = statuses(appr)
bad = [(e, st.get(e), finals.get(e)) for e in appr
       if st.get(e) != 'expired' or finals.get(e) != [('expired', 1)]]
check('each of %d approval deadlines expired its execution once'
      % len(appr), not bad, bad[:10])

# --- command deadlines ------------------------------------------------------------
dids = [e for e, _ in kinds['deadline']]
st = statuses(dids)
check('all %d executions on the mute worker failed at their deadline'
      % len(dids), all(st.get(e) == 'failed' for e in dids),
      [(e, st.get(e)) for e in dids if st.get(e) != 'failed'][:10])
ds = grouped("SELECT id, status FROM dispatches WHERE execution_id IN (%s)",
             dids)
ev = grouped("SELECT JSON_VALUE(payload, '$.command_id'), COUNT(*) FROM "
             "events WHERE type = 'dispatch_status' AND "
             "JSON_VALUE(payload, '$.status') NOT IN ('queued', 'sent', "
             "'running') AND execution_id IN (%s) GROUP BY 1", dids)
nev = {r[0]: int(r[1]) for r in ev}
bad = [(d, s, nev.get(d)) for d, s in ds
       if s not in ('timed_out', 'lost') or nev.get(d) != 1]
check('each of %d overdue commands was ended once (one final '
      'dispatch_status event, status timed_out)' % len(ds),
      len(ds) == len(dids) and not bad, {'dispatches': len(ds),
                                         'bad': bad[:10]})
sent = {}
for m in commands:
    if m.get('type') == 'execute_command':
        sent[m.get('command_id')] = sent.get(m.get('command_id'), 0) + 1
bad = [(d, sent.get(d)) for d, _ in ds if sent.get(d) != 1]
check('the mute worker was sent each command exactly once', not bad and
      not [m for m in commands if m.get('type') == '_closed'],
      {'bad': bad[:10], 'closed': [m for m in commands
                                    if m.get('type') == '_closed'][:1]})

# --- schedules ----------------------------------------------------------------------
check('every schedule fired the last minute stepped to', ok_sched)
once = []
for s in sids:
    got = [f for f in schedule_fires(s) if f[0] in minutes]
    if sorted(f[0] for f in got) != sorted(minutes) or \
            any(f[1] != 'started' for f in got):
        once.append((s, got))
check('each of %d schedules started exactly one execution for each of the '
      '%d minutes' % (len(sids), len(minutes)), minutes and not once,
      once[:3])
if minutes:
    check_schedules(sids, every=60, upto=minutes[-1])
# Who won: both pushd take part (not asserted: which one gets there first
# is timing, not correctness).
diag('schedule fires by pushd: %s' % ', '.join('%s %s' % tuple(r) for r in
     H.sql_any("SELECT COALESCE(fired_by, '?'), COUNT(*) FROM "
               "schedule_fires WHERE schedule_id IN (%s) GROUP BY 1"
               % _in_list(sids))))

# --- the section 8 invariants over the waits and deadlines -------------------------
inv.check_all(settle=False)
inv.cleanup()
fake.close()
done()
