#!/usr/bin/env python3
"""Parallel groups (SPEC section 14) with real workers (local-1 and
local-2 of the dev stack): a group's steps run at once (their dispatches
overlap in time), each has its own step_index after the group's, its own
status and output; the group fails naming the steps that failed, and is
let go by a step's on_failure "continue"; the save-time errors."""

import datetime

from live import (execute, execution, online, start_definition,
                  wait_execution)
from pulse_test import (call, check, check_status, done, require, unique,
                        wait_for)

require('local-1 online', online('local-1') is not None)
require('local-2 online', online('local-2') is not None)


def seconds(iso):
    return datetime.datetime.strptime(
        iso, '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()


def started(steps, on_failure=None):
    return start_definition('par', steps, on_failure)


def group(name, steps, **extra):
    g = {'name': name, 'type': 'parallel', 'steps': steps}
    g.update(extra)
    return g


def stdout(s):
    return ''.join(d.get('stdout') or '' for d in s.get('dispatches') or [])


# --- two execute steps on different workers and a wait, at once --------
# Each command waits (a bounded while) until the other has started, so
# they can only both succeed by running at the same time.
FLAG = '/tmp/pulse-par-%s' % unique('f')
A = ('touch %s.a; i=0; while [ ! -e %s.b ] && [ $i -lt 300 ]; do '
     'sleep 0.1; i=$((i+1)); done; [ -e %s.b ] && echo saw b'
     % (FLAG, FLAG, FLAG))
B = ('touch %s.b; i=0; while [ ! -e %s.a ] && [ $i -lt 300 ]; do '
     'sleep 0.1; i=$((i+1)); done; [ -e %s.a ] && echo saw a'
     % (FLAG, FLAG, FLAG))
eid = started([
    execute('before', 'echo before', ['local-1']),
    group('both', [execute('on one', A, ['local-1']),
                   execute('on two', B, ['local-2']),
                   {'name': 'pause', 'type': 'wait', 'duration': 500}]),
    execute('after', 'echo after; rm -f %s.a %s.b' % (FLAG, FLAG),
            ['local-1'])])
e = wait_execution(eid)
check('group: completed', e['status'] == 'completed', e)
st = e['steps']
check('group: flat indexes, the group\'s steps right after it',
      [(s['index'], s['name'], s['parent_index']) for s in st] ==
      [(0, 'before', None), (1, 'both', None), (2, 'on one', 1),
       (3, 'on two', 1), (4, 'pause', 1), (5, 'after', None)],
      [(s['index'], s['name'], s['parent_index']) for s in st])
check('group: it and its steps succeeded',
      all(s['status'] == 'succeeded' for s in st), st)
check('group: each step its own output', 'saw b' in stdout(st[2]) and
      'saw a' in stdout(st[3]), st[2:4])
d1 = (st[2].get('dispatches') or [{}])[0]
d2 = (st[3].get('dispatches') or [{}])[0]
check('group: on different workers', d1.get('worker_name') == 'local-1' and
      d2.get('worker_name') == 'local-2', (d1, d2))
ok = all(d.get('started_at') and d.get('finished_at') for d in (d1, d2))
check('group: the two dispatches overlap in time', ok and
      seconds(d1['started_at']) < seconds(d2['finished_at']) and
      seconds(d2['started_at']) < seconds(d1['finished_at']), (d1, d2))
check('group: the wait began with them', ok and st[4]['started_at'] and
      seconds(st[4]['started_at']) < seconds(d1['finished_at']), st[4])
check('group: the step after began after the group ended',
      seconds(st[5]['started_at']) >= seconds(st[1]['finished_at']), st)

# --- a step of the group fails ------------------------------------------
eid = started([group('grp', [execute('bad', 'exit 7', ['local-1']),
                             execute('good', 'echo good', ['local-2'])]),
               execute('after', 'echo after', ['local-1'])])
e = wait_execution(eid)
st = e['steps']
check('fails: the execution failed', e['status'] == 'failed', e)
check('fails: the group failed naming the step',
      st[0]['status'] == 'failed' and st[0]['reason'] ==
      'steps failed: "bad"', st[0])
check('fails: the other step still ran', st[2]['status'] == 'succeeded' and
      'good' in stdout(st[2]), st[2])
check('fails: the error names the group',
      e['error'] == 'step 1 ("grp") failed: steps failed: "bad"', e['error'])
check('fails: the step after did not run', st[3]['status'] == 'pending',
      st[3])

# --- let go by on_failure continue; a condition skips one --------------
eid = started([group('grp', [execute('may fail', 'exit 7', ['local-1'],
                                     on_failure='continue'),
                             execute('skipped', 'echo no', ['local-2'],
                                     condition="promptResponse === 'x'"),
                             execute('good', 'echo good', ['local-2'])])])
e = wait_execution(eid)
st = e['steps']
check('continue: completed, failed_steps 1', e['status'] == 'completed' and
      e['failed_steps'] == 1, e)
check('continue: statuses', [s['status'] for s in st] ==
      ['succeeded', 'failed', 'skipped', 'succeeded'], st)

# --- a group in the on_failure steps --------------------------------------
eid = started([execute('deploy', 'exit 3', ['local-1'])],
              [group('undo', [execute('undo one', 'echo u1', ['local-1']),
                              execute('undo two', 'echo u2', ['local-2'])])])
e = wait_execution(eid)
st = e['steps']
check('on_failure group: both ran, the execution failed',
      e['status'] == 'failed' and [(s['phase'], s['status'], s['parent_index'])
                                    for s in st[1:]] ==
      [('on_failure', 'succeeded', None), ('on_failure', 'succeeded', 1),
       ('on_failure', 'succeeded', 1)], st)

# --- a cancel stops every step of the group --------------------------------
eid = started([group('long', [execute('one', 'sleep 30', ['local-1']),
                              execute('two', 'sleep 30', ['local-2'])])],
              [execute('rollback', 'echo no', ['local-1'])])
e = wait_for(lambda: (lambda x: x if x and all(
    (s.get('dispatches') or [{}])[0].get('status') == 'running'
    for s in x['steps'][1:3]) else None)(execution(eid)), 30)
check('cancel: both steps running first', e is not None, execution(eid))
r = call('POST', '/api/executions/%s/cancel' % eid, body={})
check_status('cancel the execution while the group runs', r, 200)
e = wait_execution(eid)
st = e['steps']
check('cancel: the group and its steps cancelled, the rollback not run',
      e['status'] == 'cancelled' and
      [s['status'] for s in st] == ['cancelled'] * 4 and
      not st[3]['dispatches'], [(s['name'], s['status']) for s in st])


def both_ended():
    x = execution(eid)
    ds = [d for s in x['steps'][1:3] for d in s['dispatches']]
    return ds if len(ds) == 2 and all(
        d['status'] not in ('queued', 'sent', 'running') for d in ds) else None


ds = wait_for(both_ended, 30) or []
check('cancel: both commands were killed (their dispatches cancelled)',
      [d['status'] for d in ds] == ['cancelled', 'cancelled'],
      [(d['worker_name'], d['status']) for d in ds])

# --- validation -------------------------------------------------------


def refused(descr, steps, field, step_index, mention):
    r = call('POST', '/api/workflows',
             body={'name': unique('bad'), 'definition': {'steps': steps}})
    err = r[2] if isinstance(r[2], dict) else {}
    check('%s: 400 field %s' % (descr, field),
          r[0] == 400 and err.get('field') == field and
          err.get('step') == step_index and mention in err.get('error', ''),
          r)


E = execute('a', 'true', ['local-1'])
P = {'name': 'p', 'type': 'prompt', 'message': 'm', 'options': ['a']}
refused('a prompt inside', [E, group('g', [E, P])], 'steps[1].type', 1,
        'step 2 ("g"), steps[1] ("p"): type: a prompt cannot be inside a '
        'parallel group')
refused('a nested group', [group('g', [group('h', [E])])], 'steps[0].type',
        0, 'a parallel group cannot be inside a parallel group')
refused('empty steps', [group('g', [])], 'steps', 0,
        'steps: must not be empty')
refused('no steps', [{'name': 'g', 'type': 'parallel'}], 'steps', 0,
        'steps: missing')
refused('steps not an array', [group('g', 'x')], 'steps', 0,
        'steps: must be an array of steps')
refused('17 steps', [group('g', [E] * 17)], 'steps', 0,
        'steps: more than 16 steps')
refused('an unknown key on the group', [group('g', [E], colour='red')],
        'colour', 0, "unknown field 'colour' for a parallel group")
refused('an unknown key in its step', [group('g', [dict(E, x=1)])],
        'steps[0].x', 0, "unknown field 'x'")
refused('a bad step inside', [group('g', [E, {'name': 'w', 'type': 'wait'}])],
        'steps[1].duration', 0, 'duration: missing')
refused('the group\'s on_failure', [group('g', [E], on_failure=2)],
        'on_failure', 0, 'must be "continue" or "fail"')
r = call('POST', '/api/workflows', body={
    'name': unique('ok'), 'definition': {'steps': [group(
        'g', [E] * 16, condition="promptResponse === 'x'",
        on_failure='continue')]}})
check_status('16 steps, a condition and on_failure on a group are saved', r,
             201)
if r[0] == 201:
    call('DELETE', '/api/workflows/' + r[2]['id'])

# --- a prompt past index 255 ----------------------------------------------
# 16 groups of 16 waits take indexes 0..271: the prompt after them is 272,
# and the answer naming it (as the dashboard sends) is taken.
NAP = {'name': 'nap', 'type': 'wait', 'duration': 0}
eid = started([group('g%d' % i, [NAP] * 16) for i in range(16)] +
              [{'name': 'ask', 'type': 'prompt', 'message': 'go?',
                'options': ['Yes', 'No']}])
e = wait_execution(eid, statuses=('waiting', 'completed', 'failed',
                                  'cancelled')) if eid else None
check('a prompt at flat index 272 waits',
      e is not None and e['status'] == 'waiting' and
      e['current_step'] == 272, e and (e['status'], e['current_step']))
r = call('POST', '/api/executions/%s/respond' % eid,
         body={'response': 'Yes', 'step': 272}) if eid else (0, {}, {})
check_status('its answer naming step 272 is taken', r, 200)
e = wait_execution(eid) if eid else None
check('then it completes', e is not None and e['status'] == 'completed', e
      and e['status'])

done()
