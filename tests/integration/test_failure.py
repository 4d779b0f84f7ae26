#!/usr/bin/env python3
"""Failure handling (SPEC section 14) with real workers (local-1, local-2
of the dev stack): a step's on_failure "continue", the workflow's
on_failure steps (a rollback that reads state, never run on success nor
on a cancel, its own failure reported, a time-out a failure like any
other), the execution JSON's phase, failed_steps and failure, a
version-1 workflow unchanged, and the save-time errors of each bad key."""

from live import start_definition, execute, online, run, wait_execution, wait_step
from pulse_test import call, check, check_status, done, require, unique

require('local-1 online', online('local-1') is not None)

ME = 'local-1'


def step(e, i):
    return e['steps'][i] if e and len(e['steps']) > i else {}


def stdout(s):
    return ''.join(d.get('stdout') or '' for d in s.get('dispatches') or [])


def started(steps, on_failure=None):
    return start_definition('fail', steps, on_failure)


# --- on_failure "continue" --------------------------------------------
eid = started([execute('breaks', 'echo broke; exit 4', [ME],
                       on_failure='continue'),
               execute('next', 'echo next ran', [ME])])
e = wait_execution(eid)
check('continue: the execution completed', e['status'] == 'completed', e)
check('continue: failed_steps is 1', e['failed_steps'] == 1, e)
check('continue: the step is recorded failed',
      step(e, 0)['status'] == 'failed' and
      step(e, 0)['on_failure'] == 'continue', step(e, 0))
check('continue: the next step ran', step(e, 1)['status'] == 'succeeded'
      and 'next ran' in stdout(step(e, 1)), step(e, 1))
check('continue: no error, no failure, phase main',
      e['error'] is None and e['failure'] is None and e['phase'] == 'main',
      e)
r = call('GET', '/api/executions?limit=50')
row = [x for x in r[2] if x['id'] == eid] if r[0] == 200 else []
check('the list says failed_steps 1', row and row[0]['failed_steps'] == 1,
      row)

# --- a workflow's on_failure steps: the rollback ----------------------
ROLLBACK = [
    execute('rollback', 'echo rolled back', [ME],
            condition="state.steps[1].status === 'failed'"),
    execute('not this', 'echo wrong', [ME],
            condition="state.steps[0].status === 'failed'"),
]
eid = started([execute('prepare', 'echo prepared', [ME]),
               execute('deploy', 'echo deploying; exit 3', [ME]),
               execute('after', 'echo after', [ME])], ROLLBACK)
e = wait_execution(eid)
orig = 'step 2 ("deploy") failed: failed on worker \'local-1\' (exit code 3)'
check('rollback: the execution failed', e['status'] == 'failed', e)
check('rollback: its error is the original failure', e['error'] == orig,
      e['error'])
check('rollback: failure kept, phase on_failure',
      e['failure'] == orig and e['phase'] == 'on_failure', e)
check('rollback: the steps after the failure did not run',
      step(e, 2)['status'] == 'pending' and not step(e, 2)['dispatches'],
      step(e, 2))
check('rollback: on_failure steps listed after, phase on_failure',
      [s['phase'] for s in e['steps']] ==
      ['main', 'main', 'main', 'on_failure', 'on_failure'] and
      [s['index'] for s in e['steps']] == [0, 1, 2, 3, 4], e['steps'])
check('rollback: it ran, its condition reading state',
      step(e, 3)['status'] == 'succeeded' and
      'rolled back' in stdout(step(e, 3)), step(e, 3))
check('rollback: an on_failure step whose condition is false is skipped',
      step(e, 4)['status'] == 'skipped', step(e, 4))

# Not on success.
eid = started([execute('prepare', 'echo prepared', [ME]),
               execute('deploy', 'echo deployed', [ME])], ROLLBACK)
e = wait_execution(eid)
check('success: completed, phase main, failed_steps 0',
      e['status'] == 'completed' and e['phase'] == 'main' and
      e['failed_steps'] == 0, e)
check('success: the rollback did not run',
      step(e, 2)['status'] == 'pending' and not step(e, 2)['dispatches'],
      step(e, 2))

# Not on a cancel.
eid = started([execute('long', 'sleep 30', [ME])], ROLLBACK[:1])
e = wait_step(eid, 0, ('running',))
r = call('POST', '/api/executions/%s/cancel' % eid, body={})
check_status('cancel while the step runs', r, 200)
e = wait_execution(eid)
check('cancel: cancelled', e['status'] == 'cancelled', e)
check('cancel: the rollback did not run',
      step(e, 1)['status'] in ('cancelled', 'pending') and
      not step(e, 1)['dispatches'] and e['phase'] == 'main', step(e, 1))

# An on_failure step's own failure is reported with the original.
eid = started([execute('deploy', 'exit 3', [ME])],
              [execute('rollback', 'exit 5', [ME]),
               execute('tell', 'echo told', [ME])])
e = wait_execution(eid)
orig = 'step 1 ("deploy") failed: failed on worker \'local-1\' (exit code 3)'
check('rollback fails: the error says both', e['error'] == orig +
      ' (on_failure step 1 also failed: failed on worker \'local-1\' '
      '(exit code 5))', e['error'])
check('rollback fails: failure is the original', e['failure'] == orig,
      e['failure'])
check('rollback fails: the on_failure steps stop there',
      step(e, 2)['status'] == 'pending', step(e, 2))

# A time-out is a failure like any other.
eid = started([execute('slow', 'sleep 30', [ME], timeout=1000)],
              [execute('cleanup', 'echo cleaned', [ME])])
e = wait_execution(eid)
check('time-out: failed, cleanup ran', e['status'] == 'failed' and
      step(e, 1)['status'] == 'succeeded' and
      'cleaned' in stdout(step(e, 1)), e)
check('time-out: the error says timed out', 'timed_out' in
      (e['error'] or ''), e['error'])

# An on_failure step with on_failure continue goes on to the next.
eid = started([execute('deploy', 'exit 3', [ME])],
              [execute('try', 'exit 6', [ME], on_failure='continue'),
               execute('tell', 'echo told', [ME])])
e = wait_execution(eid)
check('on_failure continue in on_failure: the next ran, still failed',
      e['status'] == 'failed' and step(e, 2)['status'] == 'succeeded' and
      e['failed_steps'] == 1 and e['error'] == e['failure'], e)

# --- a version-1 workflow is unchanged --------------------------------
e = run([execute('one', 'echo one', [ME]), execute('two', 'exit 2', [ME]),
         execute('three', 'echo three', [ME])], prefix='v1')
require('v1 started', e is not None)
e = wait_execution(e['id'])
check('v1: failed at step 2, as before',
      e['status'] == 'failed' and e['error'] ==
      'step 2 ("two") failed: failed on worker \'local-1\' (exit code 2)', e)
check('v1: step indexes 0..2, no parent, phase main, on_failure fail',
      [(s['index'], s['parent_index'], s['phase'], s['on_failure'])
       for s in e['steps']] ==
      [(0, None, 'main', 'fail'), (1, None, 'main', 'fail'),
       (2, None, 'main', 'fail')], e['steps'])
check('v1: phase main, failed_steps 0, failure null',
      e['phase'] == 'main' and e['failed_steps'] == 0 and
      e['failure'] is None, e)

# --- validation -------------------------------------------------------


def refused(descr, definition, field, step_index, mention):
    r = call('POST', '/api/workflows',
             body={'name': unique('bad'), 'definition': definition})
    err = r[2] if isinstance(r[2], dict) else {}
    check('%s: 400 field %s step %s' % (descr, field, step_index),
          r[0] == 400 and err.get('field') == field and
          err.get('step') == step_index and mention in err.get('error', ''),
          r)


E = execute('a', 'true', [ME])
refused('step on_failure not a string',
        {'steps': [dict(E, on_failure=1)]}, 'on_failure', 0,
        'on_failure: must be "continue" or "fail"')
refused('step on_failure another word',
        {'steps': [dict(E, on_failure='ignore')]}, 'on_failure', 0,
        'must be "continue" or "fail"')
refused('a prompt has no on_failure',
        {'steps': [{'name': 'p', 'type': 'prompt', 'message': 'm',
                    'options': ['a'], 'on_failure': 'continue'}]},
        'on_failure', 0, 'a prompt step cannot have one')
refused('workflow on_failure not an array',
        {'steps': [E], 'on_failure': 'continue'}, 'on_failure', None,
        'on_failure: must be an array of steps')
refused('workflow on_failure empty', {'steps': [E], 'on_failure': []},
        'on_failure', None, 'on_failure: must not be empty')
refused('an on_failure step missing its command',
        {'steps': [E], 'on_failure': [E, {'name': 'r', 'type': 'execute',
                                          'targets': [ME]}]},
        'on_failure[1].command', 1,
        'on_failure step 2 ("r"): command: missing')
refused('an unknown key in an on_failure step',
        {'steps': [E], 'on_failure': [dict(E, colour='red')]},
        'on_failure[0].colour', 0, "unknown field 'colour'")
refused('a prompt as an on_failure step',
        {'steps': [E], 'on_failure': [{'name': 'p', 'type': 'prompt',
                                       'message': 'm', 'options': ['a']}]},
        'on_failure[0].type', 0, 'a prompt cannot be an on_failure step')
refused('an unknown key in the definition',
        {'steps': [E], 'on_fail': []}, 'on_fail', None,
        "unknown field 'on_fail'")
r = call('POST', '/api/workflows', body={
    'name': unique('ok'), 'definition': {
        'steps': [dict(E, on_failure='fail')],
        'on_failure': [dict(E, on_failure='continue'),
                       {'name': 'w', 'type': 'wait', 'duration': 0}]}})
check_status('on_failure fail/continue and an on_failure list are saved', r,
             201)
if r[0] == 201:
    call('DELETE', '/api/workflows/' + r[2]['id'])

done()
