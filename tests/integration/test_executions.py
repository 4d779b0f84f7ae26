#!/usr/bin/env python3
"""Executions through the API: prompts answered in turn, conditions,
an execute step with no worker to run it, cancelling, listing and paging
(SPEC section 4, DESIGN sections 4 and 8)."""

import threading
import time
import uuid

from pulse_test import (call, check, check_status, create_workflow, done,
                        error_of, is_iso8601, is_json_error, is_uuid, items,
                        prompt_step, require, start_execution, wait_for)

EXEC_KEYS = ('id', 'workflow_id', 'workflow_name', 'status', 'started_by',
             'started_at', 'completed_at', 'current_step', 'steps',
             'prompt', 'error')
STEP_KEYS = ('index', 'name', 'type', 'status')
EXEC_STATUSES = ('running', 'waiting', 'completed', 'failed', 'cancelled')
STEP_STATUSES = ('pending', 'running', 'waiting', 'succeeded', 'failed',
                 'skipped', 'cancelled')
FINAL = ('completed', 'failed', 'cancelled')


def shape(label, e, nsteps):
    """The execution JSON of SPEC section 4 and the brief."""
    e = e if isinstance(e, dict) else {}
    check('%s: has %s' % (label, ', '.join(EXEC_KEYS)),
          all(k in e for k in EXEC_KEYS),
          'missing %s' % [k for k in EXEC_KEYS if k not in e])
    check('%s: id is a UUID, status is known' % label,
          is_uuid(e.get('id')) and e.get('status') in EXEC_STATUSES, e)
    check('%s: started_at is ISO-8601' % label,
          is_iso8601(e.get('started_at')), e.get('started_at'))
    steps = e.get('steps')
    ok = isinstance(steps, list) and len(steps) == nsteps and all(
        isinstance(s, dict) and all(k in s for k in STEP_KEYS) and
        s['index'] == i and s['status'] in STEP_STATUSES
        for i, s in enumerate(steps))
    check('%s: %d steps with index, name, type and status' % (label, nsteps),
          ok, steps)
    return e


def step(e, i):
    try:
        return e['steps'][i]
    except (KeyError, IndexError, TypeError):
        return {}


def get(eid, user='admin'):
    r = call('GET', '/api/executions/' + eid, user=user)
    return r[2] if r[0] == 200 and isinstance(r[2], dict) else {}


def respond(eid, answer, user='admin'):
    return call('POST', '/api/executions/%s/respond' % eid, user=user,
                body={'response': answer})


started = []	# every execution this file starts, oldest first

# --- two prompts, answered by two people ------------------------------
two = create_workflow('exec-two-prompts', [
    prompt_step('First question', message='Go on?'),
    prompt_step('Second question', message='Really?')])
require('fixture: workflow of two prompts', two is not None)

r = call('POST', '/api/executions', user='employee',
         body={'workflow_id': two['id']})
check_status('POST /api/executions as employee', r, 201)
e = shape('started execution', r[2], 2)
require('started execution has an id', is_uuid(e.get('id')))
eid = e['id']
started.append(eid)
check('it waits at the first prompt',
      e.get('status') == 'waiting' and e.get('current_step') == 0, e)
check('workflow_id, workflow_name, started_by',
      e.get('workflow_id') == two['id'] and
      e.get('workflow_name') == two['name'] and
      e.get('started_by') == 'employee', e)
check('the pending prompt is the first one',
      e.get('prompt') == {'message': 'Go on?', 'options': ['Yes', 'No'],
                          'step': 0}, e.get('prompt'))
check('step 0 waiting, step 1 pending, not completed',
      step(e, 0).get('status') == 'waiting' and
      step(e, 1).get('status') == 'pending' and
      e.get('completed_at') is None, e.get('steps'))
check('step 0 shows its prompt',
      step(e, 0).get('prompt') == {'message': 'Go on?',
                                   'options': ['Yes', 'No']}, step(e, 0))

g = get(eid, user='employee')
check('GET /api/executions/:id shows the same prompt',
      g.get('prompt') == {'message': 'Go on?', 'options': ['Yes', 'No'],
                          'step': 0}, g)

r = respond(eid, 'Maybe')
check_status('an answer that is not an option', r, 400)
check('... JSON error', is_json_error(r), r[2])
check_status('an answer that is not a string',
             call('POST', '/api/executions/%s/respond' % eid,
                  body={'response': 1}), 400)
check_status('no answer', call('POST', '/api/executions/%s/respond' % eid,
                               body={}), 400)
check_status('an answer in the wrong case', respond(eid, 'yes'), 400)
check('a refused answer changed nothing',
      (get(eid).get('prompt') or {}).get('step') == 0)

r = respond(eid, 'Yes', user='employee')
check_status('employee answers "Yes"', r, 200)
e = r[2] if isinstance(r[2], dict) else {}
check('respond returns the execution, now at the second prompt',
      e.get('id') == eid and e.get('status') == 'waiting' and
      e.get('current_step') == 1 and
      e.get('prompt') == {'message': 'Really?', 'options': ['Yes', 'No'],
                          'step': 1}, e)

r = respond(eid, 'No', user='admin')
check_status('admin answers the second prompt "No"', r, 200)
e = r[2] if isinstance(r[2], dict) else {}
check('the execution is completed, nothing pending',
      e.get('status') == 'completed' and e.get('prompt') is None and
      is_iso8601(e.get('completed_at')), e)

r = respond(eid, 'Yes')
check_status('answering a completed execution', r, 409)
check('... JSON error', is_json_error(r), r[2])

g = shape('completed execution', get(eid), 2)
check('step 0 recorded "Yes" by employee',
      step(g, 0).get('status') == 'succeeded' and
      step(g, 0).get('response') == 'Yes' and
      step(g, 0).get('responded_by') == 'employee', step(g, 0))
check('step 1 recorded "No" by admin',
      step(g, 1).get('status') == 'succeeded' and
      step(g, 1).get('response') == 'No' and
      step(g, 1).get('responded_by') == 'admin', step(g, 1))

# --- one prompt, many answers at once: exactly one wins ---------------
single = create_workflow('exec-single', [prompt_step('Only', options=['Go'])])
require('fixture: workflow of one prompt', single is not None)
e = start_execution(single['id'])
require('started it', e is not None)
started.append(e['id'])
answers = []


def answer(user):
    answers.append(respond(e['id'], 'Go', user=user)[0])


threads = [threading.Thread(target=answer, args=(u,))
           for u in ('admin', 'employee') * 4]
for t in threads:
    t.start()
for t in threads:
    t.join()
check('8 simultaneous answers: one 200, seven 409',
      sorted(answers) == [200] + [409] * 7, answers)
g = get(e['id'])
check('... completed, with one recorded answer',
      g.get('status') == 'completed' and
      step(g, 0).get('response') == 'Go' and
      step(g, 0).get('responded_by') in ('admin', 'employee'), g)

# --- a condition on the answer ----------------------------------------
cond = create_workflow('exec-condition', [
    prompt_step('Approve', message='Approve?'),
    prompt_step('Only if approved', message='Approved. Sure?',
                condition="promptResponse === 'Yes'"),
    prompt_step('Always', message='Done?', options=['OK'])])
require('fixture: workflow with a condition', cond is not None)
e = start_execution(cond['id'])
require('started the condition workflow', e is not None)
started.append(e['id'])
r = respond(e['id'], 'No')
check_status('answer "No"', r, 200)
e = r[2] if isinstance(r[2], dict) else {}
check('the conditional step is skipped',
      step(e, 1).get('status') == 'skipped', e.get('steps'))
check('the next prompt is pending',
      e.get('status') == 'waiting' and
      (e.get('prompt') or {}).get('step') == 2, e)
r = respond(e.get('id', ''), 'OK')
check('and the execution completes',
      r[0] == 200 and isinstance(r[2], dict) and
      r[2].get('status') == 'completed', r)

e = start_execution(cond['id'])
require('started it again', e is not None)
started.append(e['id'])
r = respond(e['id'], 'Yes')
e = r[2] if isinstance(r[2], dict) else {}
check('answer "Yes": the conditional step asks',
      e.get('status') == 'waiting' and
      (e.get('prompt') or {}).get('step') == 1 and
      step(e, 0).get('status') == 'succeeded', e)

# --- an execute step nobody can run -----------------------------------
target = 'no-such-worker-%s' % uuid.uuid4().hex[:8]
lonely = create_workflow('exec-no-worker', [
    {'name': 'Run somewhere', 'type': 'execute', 'targets': [target],
     'command': 'true'}])
require('fixture: workflow targeting a missing worker', lonely is not None)
e = start_execution(lonely['id'])
require('started it', e is not None)
started.append(e['id'])


def final(eid):
    g = get(eid)
    return g if g.get('status') in FINAL else None


e = wait_for(lambda: final(started[-1]), 120) or get(started[-1])
check('it ends failed', e.get('status') == 'failed', e)
msgs = ' '.join(str(x) for x in [e.get('error')] +
                [s.get('reason') for s in e.get('steps') or []])
check('the error names the target', target in msgs, e)
check('the step failed', step(e, 0).get('status') == 'failed', step(e, 0))

# --- cancelling -------------------------------------------------------
e = start_execution(two['id'], user='employee')
require('started one to cancel', e is not None)
started.append(e['id'])
r = call('POST', '/api/executions/%s/cancel' % e['id'], user='employee',
         body={})
check_status('cancel a waiting execution', r, 200)
c = r[2] if isinstance(r[2], dict) else {}
check('it is cancelled, nothing pending',
      c.get('status') == 'cancelled' and c.get('prompt') is None, c)
check('GET agrees', get(e['id']).get('status') == 'cancelled')
r = call('POST', '/api/executions/%s/cancel' % e['id'], body={})
check_status('cancel again', r, 409)
check_status('answer a cancelled execution', respond(e['id'], 'Yes'), 409)
check_status('cancel an unknown execution',
             call('POST', '/api/executions/%s/cancel' % uuid.uuid4(),
                  body={}), 404)

# --- starting: bad requests -------------------------------------------
r = call('POST', '/api/executions', body={'workflow_id': str(uuid.uuid4())})
check_status('start an unknown workflow', r, 404)
check('... JSON error', is_json_error(r), r[2])
r = call('POST', '/api/executions', body={})
check_status('start without workflow_id', r, 400)
check('... error names workflow_id', 'workflow_id' in error_of(r[2]), r[2])
check_status('workflow_id is a number',
             call('POST', '/api/executions', body={'workflow_id': 5}), 400)
check_status('GET an unknown execution',
             call('GET', '/api/executions/%s' % uuid.uuid4()), 404)
check_status('respond to an unknown execution',
             respond(str(uuid.uuid4()), 'Yes'), 404)

# --- listing and paging -----------------------------------------------
time.sleep(1.1)		# a later second than everything above
e = start_execution(two['id'])
require('started the newest one', e is not None)
started.append(e['id'])
newest = e['id']

r = call('GET', '/api/executions', user='employee')
check_status('GET /api/executions', r, 200)
lst = items(r[2], 'executions')
require('it is a list', isinstance(lst, list), r[2])
check('at most 50', len(lst) <= 50, len(lst))
check('newest first: ours is first',
      bool(lst) and lst[0].get('id') == newest, [x.get('id') for x in lst])
times = [x.get('started_at') or '' for x in lst]
check('ordered by started_at, newest first',
      times == sorted(times, reverse=True), times)
check('list items have the execution keys',
      all(isinstance(x, dict) and
          all(k in x for k in ('id', 'workflow_id', 'status', 'started_by',
                               'started_at'))
          for x in lst), lst[:2])

r = call('GET', '/api/executions?limit=1')
one = items(r[2], 'executions')
check('?limit=1 returns exactly one, the newest',
      r[0] == 200 and isinstance(one, list) and len(one) == 1 and
      one[0].get('id') == newest, r[2])

# Walk pages of 2 back through at least the executions started here.
# (Executions started within one clock tick may come in either order.)
seen, stamps, page, before = [], [], 0, None
while page < 20:
    q = '/api/executions?limit=2' + ('&before=' + before if before else '')
    r = call('GET', q)
    p = items(r[2], 'executions')
    if r[0] != 200 or not isinstance(p, list):
        check('paging: %s' % q, False, r)
        break
    if not p:
        break
    check('paging: page %d has at most 2' % page, len(p) <= 2, p)
    seen += [x.get('id') for x in p]
    stamps += [x.get('started_at') or '' for x in p]
    if all(s in seen for s in started):
        break
    before = p[-1].get('id')
    page += 1
check('paging with ?before= reaches every execution started here, once',
      all(s in seen for s in started) and len(seen) == len(set(seen)),
      {'seen': seen, 'started': started})
check('paging keeps newest-first order',
      stamps == sorted(stamps, reverse=True) and seen[:1] == [newest],
      {'seen': seen, 'started_at': stamps})

for bad in ('0', '1000', 'abc', '-1', '1x'):
    r = call('GET', '/api/executions?limit=' + bad)
    check_status('?limit=%s' % bad, r, 400)
    check('?limit=%s: JSON error' % bad, is_json_error(r), r[2])

done()
