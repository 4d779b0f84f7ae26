#!/usr/bin/env python3
"""Sub-workflows end to end (SPEC section 14) on the real stack with the
dev workers: a workflow step starts a child execution of another stored
workflow with params (literal, or the parent's own by
"{{ params.NAME }}"), waits for it and goes on; the links both ways in
the execution JSON; a child's failure fails the parent's step and names
the child; cancelling the parent cancels the child and its commands; a
child cancelled on its own fails the parent's step; at save: a missing
workflow_id, a bad value, a direct and an indirect cycle, a chain deeper
than PULSE_SUBWORKFLOW_DEPTH_MAX (5) are refused naming the step and
field; at run: a workflow edited into a cycle after its save fails at
the depth limit."""

import time

from live import (execution, online, save_definition, wait_execution,
                  wait_step)
from pulse_test import (call, check, check_status, done, error_of,
                        have_ctl, require, sql, unique)

DEPTH_MAX = 5


def save(defn, name=None, wid=None):
    return save_definition(defn, name, wid, 'sub')


def saved(descr, defn, name=None):
    r = save(defn, name)
    check_status('saved: %s' % descr, r, 201)
    return r[2]['id'] if r[0] == 201 else None


def refused(descr, r, field, text, stepno):
    check_status('refused: %s' % descr, r, 400)
    body = r[2] if isinstance(r[2], dict) else {}
    check('... field %s' % field, body.get('field') == field, body)
    check('... step %s' % stepno, body.get('step') == stepno, body)
    check('... message says %r' % text, text in (error_of(r[2]) or ''),
          body)


def run_cmd(name, command, target='local-1'):
    return {'name': name, 'type': 'execute', 'targets': [target],
            'command': command}


def sub(name, wid, params=None):
    s = {'name': name, 'type': 'workflow', 'workflow_id': wid}
    if params is not None:
        s['params'] = params
    return s


def start(wid, params=None):
    body = {'workflow_id': wid}
    if params is not None:
        body['params'] = params
    r = call('POST', '/api/executions', body=body)
    check_status('started', r, 201)
    return r[2]['id'] if r[0] == 201 else None


def wait_child(eid, index, timeout=30):
    """The child execution id of step index, once it has one."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        e = execution(eid)
        if e and e['steps'][index].get('child_execution_id'):
            return e['steps'][index]['child_execution_id']
        time.sleep(0.1)
    return None


require('PULSE_CTL is set (the tests read the tables)', have_ctl())
require('local-1 online', online('local-1') is not None)

# --- a child with a parameter, passed literally and by reference --------
child = saved('the child', {
    'params': [{'name': 'version', 'type': 'string',
                'pattern': '[0-9.]+', 'required': True},
               {'name': 'count', 'type': 'integer', 'default': 1}],
    'steps': [run_cmd('Show', 'echo deploy {{ params.version }} '
                      '"x$PULSE_PARAM_COUNT"')]})
parent = saved('a parent passing its own parameter and a literal', {
    'params': [{'name': 'ver', 'type': 'string', 'required': True}],
    'steps': [run_cmd('Before', 'echo before'),
              sub('Deploy', child, {'version': '{{ params.ver }}',
                                    'count': 3}),
              run_cmd('After', 'echo after')]}, name=unique('Parent'))
eid = start(parent, {'ver': '1.2.3'})
e = wait_execution(eid)
check('the parent completed', e['status'] == 'completed', e)
st = e['steps'][1]
check('the workflow step succeeded, type workflow',
      st['status'] == 'succeeded' and st['type'] == 'workflow', st)
cid = st.get('child_execution_id')
check('the step links its child', cid is not None and
      st.get('child_status') == 'completed', st)
check('the parent went on after it',
      e['steps'][2]['status'] == 'succeeded' and
      'after' in e['steps'][2]['dispatches'][0]['stdout'], e['steps'][2])
check('children lists it', e.get('children') == [
    {'id': cid, 'step': 1, 'status': 'completed',
     'workflow_name': e['children'][0]['workflow_name']}]
    if e.get('children') else False, e.get('children'))
check('the parent is at depth 0 with no parent',
      e.get('depth') == 0 and e.get('parent_execution_id') is None and
      e.get('parent_step') is None, e)
c = execution(cid)
check('the child links back: parent_execution_id, parent_step, depth 1',
      c['parent_execution_id'] == eid and c['parent_step'] == 1 and
      c['depth'] == 1, c)
check('the child ran the child workflow, started by the parent\'s starter',
      c['workflow_id'] == child and c['started_by'] == e['started_by'] and
      c['kind'] == 'workflow', c)
check('the child got the parent\'s value with its type, the literal, '
      'resolved', c['params'] == {'version': '1.2.3', 'count': 3},
      c['params'])
out = c['steps'][0]['dispatches'][0]['stdout']
check('the child\'s command shows the values', out == 'deploy 1.2.3 x3\n',
      out)
check('the child started before the parent\'s next step',
      c['completed_at'] <= e['steps'][2]['started_at'],
      (c['completed_at'], e['steps'][2]['started_at']))
check('the child start wrote no audit row of its own',
      int(sql("SELECT COUNT(*) FROM audit_log WHERE action = "
              "'execution.start' AND target_id = '%s'" % cid)[0][0]) == 0)
check('the parent start wrote its one',
      int(sql("SELECT COUNT(*) FROM audit_log WHERE action = "
              "'execution.start' AND target_id = '%s'" % eid)[0][0]) == 1)

# A value the child refuses at run time (the reference's value): the step
# fails with the params.NAME message and no child is created.
eid = start(parent, {'ver': 'abc'})
e = wait_execution(eid)
check('a parent value the child refuses fails the step',
      e['status'] == 'failed' and e['steps'][1]['status'] == 'failed' and
      'params.version' in (e['steps'][1]['reason'] or ''), e['steps'][1])
check('... and creates no child', e['children'] == [] and
      e['steps'][1]['child_execution_id'] is None, e)

# --- a child that fails -----------------------------------------------
bad = saved('a failing child', {'steps': [run_cmd('Boom', 'exit 3')]},
            name=unique('Failing'))
p2 = saved('its parent', {'steps': [sub('Call', bad),
                                    run_cmd('Never', 'echo never')]})
eid = start(p2)
e = wait_execution(eid)
st = e['steps'][0]
check('the child\'s failure fails the parent step and the parent',
      e['status'] == 'failed' and st['status'] == 'failed' and
      e['steps'][1]['status'] == 'pending', e)
check('the reason names the child workflow and its error',
      "sub-workflow 'Failing" in (st['reason'] or '') and
      'exit code 3' in (st['reason'] or '') or
      "sub-workflow 'Failing" in (st['reason'] or '') and
      'Boom' in (st['reason'] or ''), st['reason'])
check('the parent\'s error names it too',
      'sub-workflow' in (e['error'] or ''), e['error'])
check('the child is failed', execution(st['child_execution_id'])['status']
      == 'failed')

# --- cancel goes down ---------------------------------------------------
slow = saved('a slow child', {'steps': [run_cmd('Sleep', 'sleep 30')]},
             name=unique('Slow'))
p3 = saved('its parent', {'steps': [sub('Wait for it', slow)]})
eid = start(p3)
cid = wait_child(eid, 0)
check('the slow child started', cid is not None)
wait_step(cid, 0, ('running',))
time.sleep(0.5)
r = call('POST', '/api/executions/%s/cancel' % eid, body={})
check_status('cancel the parent', r, 200)
c = wait_execution(cid, timeout=10)
check('the child is cancelled with it', c['status'] == 'cancelled', c)
d = c['steps'][0]['dispatches']
deadline = time.time() + 15
while time.time() < deadline and \
        any(x['status'] in ('queued', 'sent', 'running') for x in d):
    time.sleep(0.2)
    d = execution(cid)['steps'][0]['dispatches']
check('its command was stopped (cancelled or killed)',
      len(d) == 1 and d[0]['status'] in ('cancelled', 'failed'), d)
e = execution(eid)
check('the parent is cancelled', e['status'] == 'cancelled', e)

# A child cancelled on its own: the parent's step fails.
eid = start(p3)
cid = wait_child(eid, 0)
r = call('POST', '/api/executions/%s/cancel' % cid, body={})
check_status('cancel the child alone', r, 200)
e = wait_execution(eid, timeout=20)
check('the parent fails at that step', e['status'] == 'failed' and
      e['steps'][0]['status'] == 'failed', e)
check('... saying the sub-workflow was cancelled',
      'was cancelled' in (e['steps'][0]['reason'] or ''),
      e['steps'][0]['reason'])

# --- a prompt in a child is answered on the child --------------------------
asking = saved('a child that asks', {
    'allowed_groups': ['sub-approvers'],
    'steps': [{'name': 'Go?', 'type': 'prompt', 'message': 'Go on?',
               'options': ['Yes', 'No']},
              run_cmd('Went', 'echo went')]})
p4 = saved('its parent', {'steps': [sub('Ask', asking)]})
eid = start(p4)
cid = wait_child(eid, 0)
c = wait_execution(cid, ('waiting',), timeout=20)
check('the child waits on its prompt', c['status'] == 'waiting' and
      c['prompt'] is not None, c)
check('the parent runs meanwhile, its step running',
      execution(eid)['status'] == 'running' and
      execution(eid)['steps'][0]['status'] == 'running')
r = call('POST', '/api/executions/%s/respond' % eid,
         body={'response': 'Yes'})
check_status('the parent has no prompt to answer', r, 409)
r = call('POST', '/api/executions/%s/respond' % cid, user='employee',
         body={'response': 'Yes'})
check_status('the child\'s allowed_groups apply to its prompt', r, 403)
r = call('POST', '/api/executions/%s/respond' % cid,
         body={'response': 'Yes'})
check_status('answered on the child', r, 200)
e = wait_execution(eid)
check('the child went on and the parent completed after it',
      e['status'] == 'completed' and
      execution(cid)['status'] == 'completed', e)

# A child workflow deleted after the parent's save: the step fails, saying
# so, and nothing is created.
gone = saved('a child to delete', {'steps': [run_cmd('X', 'true')]})
p5 = saved('its parent', {'steps': [sub('Call', gone)]})
check_status('delete the child workflow',
             call('DELETE', '/api/workflows/' + gone), 200, 204)
e = wait_execution(start(p5))
check('a deleted child workflow fails the step',
      e['status'] == 'failed' and 'no workflow' in
      (e['steps'][0]['reason'] or '') and e['children'] == [], e)

# --- refused at save ------------------------------------------------------
refused('a missing workflow_id',
        save({'steps': [sub('X', '00000000-0000-4000-8000-000000000000')]}),
        'workflow_id', 'no workflow', 0)
refused('a workflow_id that is not an id',
        save({'steps': [run_cmd('A', 'true'), sub('X', 'nope')]}),
        'workflow_id', 'workflow_id', 1)
r = save({'steps': [{'name': 'X', 'type': 'workflow'}]})
refused('no workflow_id', r, 'workflow_id', 'workflow_id', 0)
refused('a parameter the child does not declare',
        save({'steps': [sub('X', child, {'version': '1', 'nope': 1})]}),
        'params.nope', 'params.nope', 0)
refused('a literal the child refuses',
        save({'steps': [sub('X', child, {'version': 'abc'})]}),
        'params.version', 'params.version', 0)
refused('a required child parameter not given',
        save({'steps': [sub('X', child, {'count': 2})]}),
        'params.version', 'params.version', 0)
refused('a reference to a parameter the parent does not declare',
        save({'steps': [sub('X', child, {'version': '{{ params.x }}'})]}),
        'params.version', 'params.x', 0)
refused('a value with {{ that is not a whole reference',
        save({'params': [{'name': 'x', 'type': 'string'}],
              'steps': [sub('X', child, {'version': 'v{{ params.x }}'})]}),
        'params.version', '{{', 0)
refused('a value that is not a scalar',
        save({'steps': [sub('X', child, {'version': [1]})]}),
        'params.version', 'params.version', 0)
refused('an unknown key', save({'steps': [dict(sub('X', child),
                                               bogus=1)]}),
        'bogus', 'bogus', 0)

# A direct cycle: A calls itself.
aname = unique('A')
a = saved('A (to be edited)', {'steps': [run_cmd('A1', 'true')]}, aname)
refused('a direct cycle',
        save({'steps': [run_cmd('A1', 'true'), sub('Self', a)]}, aname, a),
        'workflow_id', 'a cycle: %s -> %s' % (aname, aname), 1)
# An indirect one: A -> B -> A.
bname = unique('B')
b = saved('B calls A', {'steps': [sub('Call A', a)]}, bname)
refused('an indirect cycle',
        save({'steps': [run_cmd('A1', 'true'), sub('Call B', b)]}, aname, a),
        'workflow_id', 'a cycle: %s -> %s -> %s' % (aname, bname, aname), 1)

# Depth: W0 -> W1 -> ... -> W5 nests 5 deep (allowed); W6 on top is 6.
chain = [saved('chain 5', {'steps': [run_cmd('Leaf', 'echo leaf')]},
               unique('W5'))]
for i in range(DEPTH_MAX - 1, -1, -1):
    chain.insert(0, saved('chain %d' % i,
                          {'steps': [sub('Down', chain[0])]},
                          unique('W%d' % i)))
check('a chain nesting %d deep saves' % DEPTH_MAX, None not in chain)
refused('a chain nesting %d deep' % (DEPTH_MAX + 1),
        save({'steps': [sub('Down', chain[0])]}), 'workflow_id',
        'nest at most %d deep' % DEPTH_MAX, 0)
eid = start(chain[0])
e = wait_execution(eid)
check('the chain of %d runs to the end' % DEPTH_MAX,
      e['status'] == 'completed', e)
leaf = e
for i in range(DEPTH_MAX):
    leaf = execution(leaf['steps'][0]['child_execution_id'])
check('its deepest execution is at depth %d and ran' % DEPTH_MAX,
      leaf['depth'] == DEPTH_MAX and leaf['status'] == 'completed', leaf)

# Edited into a cycle behind the save checks (straight in the table): the
# run stops at the depth limit with a clear reason.
sql("UPDATE workflows SET definition = JSON_OBJECT('steps', JSON_ARRAY("
    "JSON_OBJECT('name', 'Loop', 'type', 'workflow', 'workflow_id', '%s')))"
    " WHERE id = '%s'" % (b, a))
eid = start(b)
e = wait_execution(eid)
check('a cycle made behind the checks fails at run time',
      e['status'] == 'failed', e)
deep = e
for i in range(DEPTH_MAX):
    nxt = deep['steps'][0]['child_execution_id']
    if nxt is None:
        break
    deep = execution(nxt)
check('... at depth %d, the step saying why' % DEPTH_MAX,
      deep['depth'] == DEPTH_MAX and
      'nest at most %d deep' % DEPTH_MAX in (deep['steps'][0]['reason']
                                             or ''), deep)
check('... every execution of the chain ended failed',
      int(sql("SELECT COUNT(*) FROM executions WHERE workflow_id IN "
              "('%s', '%s') AND status IN ('running', 'waiting')"
              % (a, b))[0][0]) == 0)

# --- a workflow step inside a parallel group (SPEC: execute, wait and ----
# workflow steps run at once), and one among the on_failure steps --------
leaf = saved('a leaf for the group', {
    'steps': [run_cmd('Leaf', 'echo leaf-ran')]})
grouped = saved('a group holding a workflow step', {
    'steps': [{'name': 'Both', 'type': 'parallel',
               'steps': [sub('Call', leaf), run_cmd('Beside', 'echo beside')]}],
    'on_failure': [sub('Clean up', leaf)]})
eid = start(grouped)
e = wait_execution(eid)
check('the group with a workflow step completed',
      e is not None and e['status'] == 'completed', e)
call_step = e['steps'][1] if e else {}
check('... its workflow step (index 1, parent 0) started a child that '
      'completed', call_step.get('parent_index') == 0 and
      call_step.get('child_status') == 'completed', call_step)
kid = execution(call_step.get('child_execution_id')) \
    if call_step.get('child_execution_id') else None
check('... the child ran its command and links back to step 1',
      kid is not None and kid['parent_execution_id'] == eid and
      kid['parent_step'] == 1 and
      'leaf-ran' in (kid['steps'][0]['dispatches'][0].get('stdout') or ''),
      kid)
check('... the on_failure workflow step did not run',
      e is not None and e['steps'][3].get('child_execution_id') is None,
      e and e['steps'][3])
r = save({'steps': [{'name': 'G', 'type': 'parallel',
                     'steps': [sub('Missing', '00000000-0000-4000-8000-'
                                   '000000000000')]}]})
check_status('a missing workflow inside a group is refused at save', r, 400)

done()
