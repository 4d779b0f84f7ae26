#!/usr/bin/env python3
"""Schedules (SPEC section 16) end to end on the scheduler's test clock.

The stack's pulse-api and pushd read $PULSE_STACK/clock (an offset in
seconds, PULSE_TEST_CLOCK_FILE): this file moves it forward a minute at a
time so every-minute schedules fire in seconds. Covered: validation that
names the field (and the cron field and position); preview counts 1..1000
and daylight-saving times in Europe/Berlin; every-minute fires, each one
execution started by schedule:<name> with its execution.start audit row
and the schedule's params; overlap skip, queue and allow; misfire skip
and run_once after a clock jump, every missed time recorded with a
reason; one-shot `at`; enable/disable; a deleted workflow disables its
schedules; fire rows past RETENTION_DAYS deleted by pushd;
schedule.create/update/delete audit rows."""

import os
import time
import uuid

from pulse_test import (SchedClock, at_end, call, check, check_status, ctl,
                        diag, done, prompt_step, require, sql, unique,
                        wait_for)

clock = SchedClock()
set_clock = clock.set
clock_now = clock.now
next_minute = clock.next_minute


def iso(t):
    return time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime(t))


def workflow(steps, params=None):
    d = {'steps': steps}
    if params is not None:
        d['params'] = params
    r = call('POST', '/api/workflows',
             body={'name': unique('sch-wf'), 'definition': d})
    require('set-up: a workflow', r[0] == 201, r)
    wid = r[2]['id']
    at_end(lambda: call('DELETE', '/api/workflows/' + wid))
    return r[2]


def schedule(body, expect=201):
    r = call('POST', '/api/schedules', body=body)
    if r[0] == 201:
        sid = r[2]['id']
        clock.keep(sid)
        at_end(lambda: call('DELETE', '/api/schedules/' + sid))
    check_status('create schedule %s' % body.get('name'), r, expect)
    return r[2]


def get(sid):
    r = call('GET', '/api/schedules/' + sid)
    return r[2] if r[0] == 200 else {}


def fire_at(sid, t):
    for f in get(sid).get('fires', []):
        if f.get('fire_time') == iso(t):
            return f
    return None


def settled_fire(sid, t, timeout=10):
    """The fire row of time t once it is written (none: None)."""
    return wait_for(lambda: fire_at(sid, t), timeout, 0.1)


def quiet(seconds=1.5):
    """Give pushd several ticks (DBT_SCHEDULES_MS) to do what it would."""
    time.sleep(seconds)


WAIT = {'name': 'w', 'type': 'wait', 'duration': 0}
ASK = prompt_step('ask')

# --- validation: the field, and for cron the field and position -----------
wf = workflow([WAIT])
base = {'workflow_id': wf['id'], 'name': unique('sch-bad'),
        'cron': '* * * * *'}


def refused(what, change, field, words=(), status=400, user='admin'):
    b = dict(base)
    b.update(change)
    b = {k: v for k, v in b.items() if v is not None}
    r = call('POST', '/api/schedules', body=b, user=user)
    if r[0] == 201:
        at_end(lambda: call('DELETE', '/api/schedules/' + r[2]['id']))
    d = r[2] if isinstance(r[2], dict) else {}
    check('%s: %d naming %s' % (what, status, field), r[0] == status and
          (field is None or d.get('field') == field) and
          all(w in d.get('error', '') for w in words), r)


refused('minute 61', {'cron': '61 * * * *'}, 'cron',
        ('minute', '61', '0-59'))
refused('a bad day-of-week name', {'cron': '0 0 * * fri2'}, 'cron',
        ('day-of-week', 'position', 'fri2'))
refused('four fields', {'cron': '* * * *'}, 'cron')
refused('a cron of 257 bytes', {'cron': '*' + ' ' * 256}, 'cron')
refused('no time zone of that name', {'timezone': 'Mars/Olympus_Mons'},
        'timezone')
refused('a time zone that walks out of zoneinfo',
        {'timezone': '../../etc/passwd'}, 'timezone')
refused('cron and at both', {'at': '2099-01-01T00:00:00Z'}, 'at')
refused('neither cron nor at', {'cron': None}, 'cron')
refused('at not ISO-8601', {'cron': None, 'at': 'tomorrow'}, 'at')
refused('at in the past', {'cron': None, 'at': '2001-01-01T00:00:00Z'},
        'at', ('past',))
refused('overlap unknown', {'overlap': 'sometimes'}, 'overlap')
refused('misfire unknown', {'misfire': 'later'}, 'misfire')
refused('enabled not a boolean', {'enabled': 'yes'}, 'enabled')
refused('an unknown field', {'colour': 'red'}, 'colour')
refused('no name', {'name': None}, 'name')
refused('no such workflow', {'workflow_id': '00000000-0000-4000-8000-'
                             '000000000000'}, 'workflow_id')
refused('an employee may not create one', {}, None, status=403,
        user='employee')
refused('never fires (30 February)', {'cron': '0 0 30 2 *'}, 'cron')
refused('at after 2038-01-19T03:14:07Z (the columns end there)',
        {'cron': None, 'at': '2040-01-01T00:00:00Z'}, 'at', ('2038',))

pwf = workflow([WAIT], params=[{'name': 'n', 'type': 'integer',
                                'required': True}])
refused('params: a required one missing', {'workflow_id': pwf['id']},
        'params.n')
refused('params: the wrong type', {'workflow_id': pwf['id'],
                                   'params': {'n': 'seven'}}, 'params.n')
refused('params: not declared', {'workflow_id': pwf['id'],
                                 'params': {'n': 1, 'm': 2}}, 'params.m')
refused('params: not an object', {'workflow_id': pwf['id'],
                                  'params': [1]}, 'params')

dup = schedule(dict(base, name=unique('sch-dup'), enabled=False))
refused('a name taken', {'name': dup['name']}, 'name', status=409)
check('a disabled schedule has no next run', dup.get('next_run_at') is None,
      dup)

# --- previews ---------------------------------------------------------------
r = call('GET', '/api/schedules/%s/preview' % dup['id'])
check('preview: 5 times by default', r[0] == 200 and
      len(r[2].get('times', [])) == 5, r)
r = call('GET', '/api/schedules/%s/preview?count=1000' % dup['id'],
         user='employee')
t = r[2].get('times', []) if r[0] == 200 else []
check('preview: 1000 times for anyone, strictly increasing minutes',
      len(t) == 1000 and t == sorted(set(t)) and
      all(x.endswith(':00.000Z') for x in t), r[0])
for bad in ('0', '1001', 'x', '-1'):
    r = call('GET', '/api/schedules/%s/preview?count=%s' % (dup['id'], bad))
    check('preview: count=%s refused naming count' % bad, r[0] == 400 and
          r[2].get('field') == 'count', r)
r = call('POST', '/api/schedules/preview', body={'cron': '0 9 * * mon-fri',
         'timezone': 'America/New_York', 'count': 1})
check('editor preview: one time when asked for one', r[0] == 200 and
      len(r[2].get('times', [])) == 1, r)
r = call('POST', '/api/schedules/preview', body={'cron': '0 9 * * 8'})
check('editor preview: a bad cron names the field', r[0] == 400 and
      r[2].get('field') == 'cron' and 'day-of-week' in r[2].get('error', ''),
      r)
r = call('POST', '/api/schedules/preview', body={'cron': '* * * * *',
         'count': 1001})
check('editor preview: count 1001 refused', r[0] == 400 and
      r[2].get('field') == 'count', r)
r = call('POST', '/api/schedules/preview', user='employee',
         body={'cron': '* * * * *'})
check_status('editor preview is for admins', r, 403)

# Daylight saving on the test clock: Europe/Berlin springs forward on
# 2027-03-28 (02:00 -> 03:00 CET->CEST) and falls back on 2027-10-31.
set_clock(1806105600 + 5)	# 2027-03-27T00:00:05Z
require('clock at 2027-03-27', iso(int(clock_now()))[:10] == '2027-03-27',
        iso(clock_now()))
r = call('POST', '/api/schedules/preview', body={
    'cron': '30 2 * * *', 'timezone': 'Europe/Berlin', 'count': 3})
check('DST spring forward: 02:30 that does not exist fires at 03:00 CEST',
      r[0] == 200 and r[2].get('times') == [
          '2027-03-27T01:30:00.000Z', '2027-03-28T01:00:00.000Z',
          '2027-03-29T00:30:00.000Z'], r)
set_clock(1824854400 + 5)	# 2027-10-30T00:00:05Z
r = call('POST', '/api/schedules/preview', body={
    'cron': '30 2 * * *', 'timezone': 'Europe/Berlin', 'count': 3})
check('DST fall back: 02:30 that happens twice fires once, the first',
      r[0] == 200 and r[2].get('times') == [
          '2027-10-30T00:30:00.000Z', '2027-10-31T00:30:00.000Z',
          '2027-11-01T01:30:00.000Z'], r)
r = call('POST', '/api/schedules/preview', body={
    'at': '2027-11-05T09:15', 'timezone': 'America/New_York'})
check('at without an offset is local time in the zone (EDT, UTC-4)',
      r[0] == 200 and r[2].get('times') == ['2027-11-05T13:15:00.000Z'], r)

# --- every minute: one execution a fire, by schedule:<name> -----------------
pname = unique('sch-min')
s = schedule({'workflow_id': pwf['id'], 'name': pname, 'cron': '* * * * *',
              'params': {'n': 7}})
sid = s['id']
m0 = (int(clock_now()) // 60 + 1) * 60
check('next_run_at is the next minute', s.get('next_run_at') == iso(m0), s)
execs = []
for i in range(3):
    m = next_minute()
    t0 = time.monotonic()
    f = settled_fire(sid, m)
    check('minute %d: fired, started' % i, f and f['outcome'] == 'started'
          and f.get('execution_id'), f)
    if f:
        execs.append(f['execution_id'])
        diag('fire %d seen after %.2f s' % (i, time.monotonic() - t0))
check('three fires, three distinct executions',
      len(set(execs)) == 3, execs)
rows = sql("SELECT COUNT(*) FROM executions WHERE started_by = "
           "'schedule:%s'" % pname)
check('exactly three executions started by schedule:%s' % pname,
      rows == [['3']], rows)
for eid in execs[:1]:
    r = call('GET', '/api/executions/' + eid)
    check('execution started_by schedule:<name>', r[0] == 200 and
          r[2].get('started_by') == 'schedule:' + pname, r)
    rows = sql("SELECT JSON_EXTRACT(params, '$.n') FROM executions WHERE "
               "id = '%s'" % eid)
    check('execution ran with the schedule\'s params', rows == [['7']], rows)
r = call('GET', '/api/audit?actor=schedule:%s&action=execution.start' % pname)
ents = r[2].get('entries', []) if r[0] == 200 else []
check('each fire has its execution.start audit row by schedule:<name>',
      sorted(e['target_id'] for e in ents) == sorted(execs), ents)
cur = get(sid)
check('next_run_at moved to the minute after the last fire',
      cur.get('next_run_at') == iso(m + 60), cur)
check('last run, its status and execution shown',
      cur.get('last_run_at') == iso(m) and cur.get('last_status') ==
      'started' and cur.get('last_execution_id') == execs[-1], cur)

# Disable: nothing fires; enable again: the next minute fires.
r = call('PUT', '/api/schedules/' + sid, body={'enabled': False})
check('disable: 200, enabled false, no next run', r[0] == 200 and
      r[2].get('enabled') is False and r[2].get('next_run_at') is None, r)
m = next_minute()
quiet()
check('disabled: no fire', fire_at(sid, m) is None, get(sid))
r = call('PUT', '/api/schedules/' + sid, body={'enabled': True})
check('enable: next run the next minute', r[0] == 200 and
      r[2].get('next_run_at') == iso(m + 60), r)
r = call('PUT', '/api/schedules/' + sid, user='employee',
         body={'enabled': False})
check_status('an employee may not change one', r, 403)
r = call('PUT', '/api/schedules/' + sid, body={'cron': '*/61 * * * *'})
check('PUT with a bad cron: 400 naming cron', r[0] == 400 and
      r[2].get('field') == 'cron', r)
call('PUT', '/api/schedules/' + sid, body={'enabled': False})

# --- overlap ---------------------------------------------------------------
owf = workflow([ASK])
osch = {}
for pol in ('skip', 'queue', 'allow'):
    osch[pol] = schedule({'workflow_id': owf['id'], 'overlap': pol,
                          'name': unique('sch-ov-' + pol),
                          'cron': '* * * * *'})['id']
mins = [next_minute()]
for pol, x in osch.items():
    f = settled_fire(x, mins[0])
    check('overlap %s: first fire started' % pol,
          f and f['outcome'] == 'started', f)
mins.append(next_minute())
f = settled_fire(osch['skip'], mins[1])
check('overlap skip: second fire skipped while the first waits, saying why',
      f and f['outcome'] == 'skipped' and f.get('execution_id') is None and
      'still running' in (f.get('reason') or ''), f)
f = settled_fire(osch['queue'], mins[1])
check('overlap queue: second fire queued', f and f['outcome'] == 'queued',
      f)
f = settled_fire(osch['allow'], mins[1])
check('overlap allow: second fire started beside the first',
      f and f['outcome'] == 'started', f)
mins.append(next_minute())
f = settled_fire(osch['queue'], mins[2])
check('overlap queue: a third fire is skipped (one waits already)',
      f and f['outcome'] == 'skipped' and 'queued' in (f.get('reason') or ''),
      f)
first = fire_at(osch['queue'], mins[0])['execution_id']
r = call('POST', '/api/executions/%s/respond' % first,
         body={'response': 'Yes'})
check_status('answer the first queued-schedule run', r, 200)
f = wait_for(lambda: (fire_at(osch['queue'], mins[1]) or {}).get(
    'outcome') == 'started' and fire_at(osch['queue'], mins[1]), 10)
check('overlap queue: the queued fire starts once the first ended',
      f and f.get('execution_id') not in (None, first), f)
for pol, x in osch.items():
    n = sql("SELECT COUNT(*) FROM schedule_fires f JOIN executions e ON "
            "e.id = f.execution_id WHERE f.schedule_id = '%s'" % x)
    want = {'skip': '1', 'queue': '2', 'allow': '3'}[pol]
    check('overlap %s: %s executions over three fires' % (pol, want),
          n == [[want]], n)
    call('PUT', '/api/schedules/' + x, body={'enabled': False})
for eid, in sql("SELECT id FROM executions WHERE workflow_id = '%s' AND "
                "status = 'waiting'" % owf['id']):
    call('POST', '/api/executions/%s/cancel' % eid)

# --- misfire: a clock jump of ten minutes ----------------------------------
mis = {}
for pol in ('skip', 'run_once'):
    mis[pol] = schedule({'workflow_id': wf['id'], 'misfire': pol,
                         'name': unique('sch-mf-' + pol),
                         'cron': '* * * * *'})['id']
t1 = (int(clock_now()) // 60 + 1) * 60
set_clock(t1 + 9 * 60 + 2)	# due: t1 .. t1 + 9 min, ten times
due = [t1 + 60 * i for i in range(10)]


def fires_of(x):
    return wait_for(lambda: len(get(x).get('fires', [])) >= 10 and
                    get(x)['fires'], 10)


fs = fires_of(mis['run_once']) or []
by = {f['fire_time']: f for f in fs}
check('misfire run_once: the latest time fired',
      by.get(iso(due[-1]), {}).get('outcome') == 'started', fs)
check('misfire run_once: the nine before it missed, each saying why',
      all(by.get(iso(t), {}).get('outcome') == 'missed' and
          'misfire' in by[iso(t)].get('reason', '') for t in due[:-1]), fs)
fs = fires_of(mis['skip']) or []
by = {f['fire_time']: f for f in fs}
check('misfire skip: all ten missed with a reason, none started',
      all(by.get(iso(t), {}).get('outcome') == 'missed' and
          by[iso(t)].get('reason') for t in due) and
      not any(f['outcome'] == 'started' for f in fs), fs)
check('misfire: next run after the jump is the next minute',
      get(mis['skip']).get('next_run_at') == iso(due[-1] + 60),
      get(mis['skip']))
for x in mis.values():
    call('PUT', '/api/schedules/' + x, body={'enabled': False})

# --- one-shot at ----------------------------------------------------------
at_t = (int(clock_now()) // 60 + 2) * 60
one = schedule({'workflow_id': wf['id'], 'name': unique('sch-at'),
                'at': iso(at_t)[:19] + 'Z'})
check('one-shot: next run is its at', one.get('next_run_at') == iso(at_t) and
      one.get('cron') is None and one.get('at') == iso(at_t), one)
next_minute()
quiet()
check('one-shot: not before its time', fire_at(one['id'], at_t) is None,
      get(one['id']))
set_clock(at_t + 3)
f = settled_fire(one['id'], at_t)
check('one-shot: fired once at its time', f and f['outcome'] == 'started',
      f)
cur = wait_for(lambda: get(one['id']).get('enabled') is False and
               get(one['id']), 5) or {}
check('one-shot: disabled after its fire, saying so',
      cur.get('next_run_at') is None and
      'one-shot' in (cur.get('disabled_reason') or ''), cur)
next_minute()
quiet()
check('one-shot: exactly one fire', len(get(one['id']).get('fires', [])) == 1,
      get(one['id']))

# --- a deleted workflow disables its schedules ------------------------------
dwf = workflow([WAIT])
ds = schedule({'workflow_id': dwf['id'], 'name': unique('sch-del'),
               'cron': '* * * * *'})
r = call('GET', '/api/schedules?workflow_id=' + dwf['id'])
check('list by workflow_id: just its schedule', r[0] == 200 and
      [x['id'] for x in r[2]] == [ds['id']], r)
r = call('GET', '/api/schedules', user='employee')
check('anyone may list schedules', r[0] == 200 and
      ds['id'] in [x['id'] for x in r[2]], r[0])
check_status('delete the workflow', call('DELETE', '/api/workflows/' +
                                         dwf['id']), 200)
cur = get(ds['id'])
check('its schedule is disabled, saying the workflow was deleted',
      cur.get('enabled') is False and cur.get('next_run_at') is None and
      cur.get('disabled_reason') == 'workflow %s was deleted' % dwf['name'],
      cur)
m = next_minute()
quiet()
check('and it does not fire', fire_at(ds['id'], m) is None, get(ds['id']))

# --- fire rows older than RETENTION_DAYS (30) go -----------------------------
recent = time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(time.time() - 86400))
for when, outcome in (('2001-01-01 00:00:00', 'missed'),
                      ('2001-01-03 00:00:00', 'skipped'),
                      (recent, 'missed')):
    sql("INSERT INTO schedule_fires (schedule_id, fire_time, outcome, "
        "reason) VALUES ('%s', '%s', '%s', 'by hand')" % (dup['id'], when,
                                                          outcome))
ctl('pushd-kill')
ctl('pushd-start')	# a pushd deletes old fires at its first look
left = wait_for(lambda: (lambda r: r if len(r) == 1 else None)(
    sql("SELECT fire_time FROM schedule_fires WHERE schedule_id = '%s'"
        % dup['id'])), 10)
check('fires older than RETENTION_DAYS deleted by pushd, a day-old one kept',
      left and left[0][0].startswith(recent), left)
sql("DELETE FROM schedule_fires WHERE schedule_id = '%s'" % dup['id'])

# --- audit rows by the admin ------------------------------------------------
nobody = '00000000-0000-4000-8000-000000000000'
for method, path, body in (('GET', '/api/schedules/' + nobody, None),
                           ('PUT', '/api/schedules/' + nobody,
                            {'enabled': False}),
                           ('DELETE', '/api/schedules/' + nobody, None),
                           ('GET', '/api/schedules/%s/preview' % nobody,
                            None),
                           ('GET', '/api/schedules/not-an-id', None)):
    r = call(method, path, body=body)
    check('%s %s: 404 with a JSON error' % (method, path),
          r[0] == 404 and 'not found' in r[2].get('error', ''), r)
r = call('DELETE', '/api/schedules/' + ds['id'], user='employee')
check_status('an employee may not delete one', r, 403)
r = call('DELETE', '/api/schedules/' + ds['id'])
check('delete a schedule: {deleted, id}', r[0] == 200 and
      r[2] == {'deleted': True, 'id': ds['id']}, r)
check_status('it is gone', call('GET', '/api/schedules/' + ds['id']), 404)
r = call('GET', '/api/audit?target=' + ds['id'])
acts = sorted(e['action'] for e in r[2].get('entries', [])) \
    if r[0] == 200 else []
check('schedule.create and schedule.delete audit rows by admin',
      acts == ['schedule.create', 'schedule.delete'] and
      all(e['actor'] == 'admin' for e in r[2]['entries']), r[2])
r = call('GET', '/api/audit?target=' + sid)
acts = [e['action'] for e in r[2].get('entries', [])] if r[0] == 200 else []
check('every enable/disable is a schedule.update row',
      acts.count('schedule.update') == 3, acts)
r = call('GET', '/api/audit?actor=schedule:%s' % pname)
check('a fire writes no schedule.* row (only execution.start)',
      r[0] == 200 and all(e['action'] == 'execution.start'
                          for e in r[2].get('entries', [])), r[2])

# --- a next_run_at already fired: the schedule keeps firing ----------------
# The API host's clock behind pushd's (or stepped back): a PUT computed a
# next_run_at equal to a fire already recorded; pushd used to roll back on
# the duplicate key every tick, silently, forever.
bwf = workflow([WAIT])
b = schedule({'workflow_id': bwf['id'], 'name': unique('sch-back'),
              'cron': '* * * * *'})['id']
m = next_minute()
f = settled_fire(b, m)
check('clock back: the first fire started', f and f['outcome'] == 'started',
      f)
set_clock(m - 20, back=True)
r = call('PUT', '/api/schedules/' + b, body={'params': {}})
check_status('clock back: a PUT of params', r, 200)
check('... keeps next_run_at after the fire already made',
      isinstance(r[2], dict) and r[2].get('next_run_at') == iso(m + 60), r[2])
r = call('PUT', '/api/schedules/' + b, body={'cron': '*/1 * * * *'})
check('... a new cron: next time after the last fire, not the API\'s now',
      r[0] == 200 and r[2].get('next_run_at') == iso(m + 60), r)
# The pushd end: a row as an older API left it (next_run_at = a fire made).
sql("UPDATE schedules SET next_run_at = FROM_UNIXTIME(%d) WHERE id = '%s'"
    % (m, b))
set_clock(m + 62)
f = settled_fire(b, m + 60)
check('clock back: next_run_at on a recorded fire is moved past it, and '
      'the next minute fires', f and f['outcome'] == 'started', f)
set_clock(m + 122)
f = settled_fire(b, m + 120)
check('... and the one after', f and f['outcome'] == 'started', f)
n = sql("SELECT COUNT(*) FROM executions WHERE started_by = 'schedule:%s'"
        % get(b).get('name'))
check('... one execution per fire time (3)', n == [['3']], n)
bname = get(b).get('name')
with open(os.path.join(os.environ['PULSE_STACK'], 'log',
                       'pulse-pushd.log'), errors='replace') as fh:
    said = [ln for ln in fh if 'schedule %s: next run %s had already fired'
            % (bname, iso(m)) in ln]
check('... pushd said so once, with the new time', len(said) == 1 and
      said[0].rstrip().endswith('moved to ' + iso(m + 60)), said)
call('PUT', '/api/schedules/' + b, body={'enabled': False})

# --- a rename while a fire is due keeps that fire --------------------------
# pushd down, so the fire is due and not made when the PUT arrives.
r = schedule({'workflow_id': bwf['id'], 'name': unique('sch-ren'),
              'cron': '* * * * *'})
rn = r['id']
ctl('pushd-kill')
try:
    m = next_minute()
    r = call('PUT', '/api/schedules/' + rn,
             body={'name': unique('sch-ren2'), 'params': {}})
    check_status('rename while due', r, 200)
    check('... next_run_at stays the due time', r[2].get('next_run_at') ==
          iso(m), r[2])
finally:
    ctl('pushd-start')
f = settled_fire(rn, m, 20)
check('... and the due fire is made', f and f['outcome'] == 'started', f)
call('PUT', '/api/schedules/' + rn, body={'enabled': False})

# --- overlap queue: 50 fires blocked elsewhere do not hide a free one -------
qwf = workflow([ASK])
r = call('POST', '/api/executions', body={'workflow_id': qwf['id']})
check_status('set-up: a waiting execution (the blockers\' run)', r, 201)
blocker = r[2].get('id') if isinstance(r[2], dict) else None
wait_for(lambda: sql("SELECT status FROM executions WHERE id = '%s'" %
                     blocker) == [['waiting']], 10)
fakes = []
for i in range(55):
    fid = str(uuid.uuid4())
    fakes.append(fid)
    sql("INSERT INTO schedules (id, workflow_id, name, cron, enabled, "
        "overlap, next_run_at, last_execution_id, created_by) VALUES "
        "('%s', '%s', '%s', '0 0 1 1 *', 1, 'queue', NULL, '%s', 'test')"
        % (fid, qwf['id'], unique('sch-blk'), blocker))
    sql("INSERT INTO schedule_fires (schedule_id, fire_time, outcome) "
        "VALUES ('%s', '2001-01-01 00:%02d:00', 'queued')" % (fid, i))


def drop_fakes():
    for fid in fakes:
        sql("DELETE FROM schedule_fires WHERE schedule_id = '%s'" % fid)
        sql("DELETE FROM schedules WHERE id = '%s'" % fid)
    call('POST', '/api/executions/%s/cancel' % blocker)


at_end(drop_fakes)
q = schedule({'workflow_id': qwf['id'], 'name': unique('sch-q'),
              'cron': '* * * * *', 'overlap': 'queue'})['id']
m = next_minute()
f = settled_fire(q, m)
check('queue behind 55 blocked: first fire started',
      f and f['outcome'] == 'started', f)
set_clock(m + 62)
f = settled_fire(q, m + 60)
check('... second fire queued', f and f['outcome'] == 'queued', f)
first = (fire_at(q, m) or {}).get('execution_id')
r = call('POST', '/api/executions/%s/respond' % first,
         body={'response': 'Yes'})
check_status('... its first run answered', r, 200)
f = wait_for(lambda: (fire_at(q, m + 60) or {}).get('outcome') ==
             'started' and fire_at(q, m + 60), 10)
check('... the queued fire starts though 55 older queued fires still wait',
      f and f.get('execution_id') not in (None, first), f)

# --- overlap queue: an older queued fire starts before a new one ------------
# Its blocker ends while pushd is down; when pushd comes back the next
# minute is due too: the queued fire starts, the new one is skipped.
second = (fire_at(q, m + 60) or {}).get('execution_id')
set_clock(m + 122)
f = settled_fire(q, m + 120)
check('... third fire queued behind the second run',
      f and f['outcome'] == 'queued', f)
ctl('pushd-kill')
try:
    sql("UPDATE executions SET status = 'cancelled' "
        "WHERE id = '%s'" % second)
    set_clock(m + 182)
finally:
    ctl('pushd-start')
f = settled_fire(q, m + 180, 20)
quiet(2)
f = fire_at(q, m + 180)
check('... the minute after, due with the queued one: skipped, not started '
      'first', f and f['outcome'] == 'skipped' and
      'queued' in (f.get('reason') or ''), f)
f = fire_at(q, m + 120)
check('... and the queued one started', f and f['outcome'] == 'started', f)
call('PUT', '/api/schedules/' + q, body={'enabled': False})
for eid, in sql("SELECT id FROM executions WHERE workflow_id = '%s' AND "
                "status = 'waiting'" % qwf['id']):
    call('POST', '/api/executions/%s/cancel' % eid)

done()
