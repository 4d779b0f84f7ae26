#!/usr/bin/env python3
"""Approvals on a frozen plan (SPEC section 15) end to end on the real
stack with the dev workers. alice, bob and carol are in the group
`leads`; employee is not; admin is not an approver by role. A workflow
with `approval` starts `awaiting_approval` with its plan frozen (the
version, the params, every template expanded, every workflow step
pinned) in canonical JSON and plan_hash = SHA-256 of those bytes; the
hash binds (the workflow edited after the request: the frozen plan runs,
the command a real worker ran is the plan's); two approvers of two; the
starter, an outsider of the group, a second decision, a stale hash and a
decision on a closed approval are refused with the reason and nothing
recorded; a rejection and the deadline end it rejected / expired; a
cancel while awaiting; three concurrent approvals of two start it once;
the audit rows; a pinned sub-workflow runs the pinned version after the
child is edited; the `approval` key's bad shapes each name their field."""

import hashlib
import json
import threading
import time

import wsclient

from live import execution, online, save_definition, wait_execution
from pulse_test import (call, check, check_status, done, error_of, origin,
                        require, sql, wait_for)

FINAL = ('completed', 'failed', 'cancelled', 'rejected', 'expired')
LEADS = {'required': 2, 'approvers': ['leads'], 'expires_in': 600000}


def save(defn, name=None, wid=None):
    return save_definition(defn, name, wid, 'appr')


def saved(descr, defn, name=None):
    r = save(defn, name)
    check_status('saved: %s' % descr, r, 201)
    require('... it has an id', r[0] == 201, r[2])
    return r[2]['id']


def start(wid, user='admin', params=None):
    body = {'workflow_id': wid}
    if params is not None:
        body['params'] = params
    return call('POST', '/api/executions', user=user, body=body)


def decide(eid, user, plan_hash, decision='approve', comment=None):
    body = {'plan_hash': plan_hash, 'decision': decision}
    if comment is not None:
        body['comment'] = comment
    return call('POST', '/api/executions/%s/approve' % eid,
                user=as_user(user), body=body)


def as_user(user):
    return (user, user) if user in ('alice', 'bob', 'carol') else user


def canonical(v):
    """The contract's canonical JSON (no control characters in these
    tests' values, so json.dumps' escapes agree with canon.c's)."""
    return json.dumps(v, sort_keys=True, separators=(',', ':'),
                      ensure_ascii=False)


def approvals_rows(eid):
    return sql("SELECT approver, decision FROM approvals "
               "WHERE execution_id = '%s' ORDER BY approver" % eid)


def audit_rows(eid, action):
    return sql("SELECT actor, JSON_VALUE(details, '$.plan_hash') "
               "FROM audit_log WHERE target_id = '%s' AND action = '%s' "
               "ORDER BY id" % (eid, action))


def run_step(name, command, target='local-1'):
    return {'name': name, 'type': 'execute', 'targets': [target],
            'command': command}


online('local-1')

# --- the approval key: each bad shape names its field ---------------------
BAD = [
    ('not an object', 5, 'approval', 'must be an object'),
    ('required 0', {'required': 0, 'approvers': ['leads']},
     'approval.required', 'between 1 and 10'),
    ('required 11', {'required': 11, 'approvers': ['leads']},
     'approval.required', 'between 1 and 10'),
    ('required a string', {'required': '2', 'approvers': ['leads']},
     'approval.required', 'integer'),
    ('approvers missing', {'required': 1}, 'approval.approvers', 'missing'),
    ('approvers empty', {'approvers': []}, 'approval.approvers',
     'must not be empty'),
    ('approvers not strings', {'approvers': [7]}, 'approval.approvers',
     'must be a string'),
    ('approvers repeated', {'approvers': ['leads', 'leads']},
     'approval.approvers', 'repeats'),
    ('65 approver groups', {'approvers': ['g%d' % i for i in range(65)]},
     'approval.approvers', 'more than 64'),
    ('expires_in 999', {'approvers': ['leads'], 'expires_in': 999},
     'approval.expires_in', 'between 1000 and 2592000000'),
    ('expires_in past 30 days', {'approvers': ['leads'],
                                 'expires_in': 2592000001},
     'approval.expires_in', 'between 1000 and 2592000000'),
    ('expires_in 1.5', {'approvers': ['leads'], 'expires_in': 1500.5},
     'approval.expires_in', 'integer'),
    ('an unknown key', {'approvers': ['leads'], 'quorum': 2},
     'approval.quorum', 'unknown field'),
]
for descr, appr, field, text in BAD:
    r = save({'approval': appr, 'steps': [run_step('s', 'true')]})
    check_status('approval refused: %s' % descr, r, 400)
    body = r[2] if isinstance(r[2], dict) else {}
    check('... field %s' % field, body.get('field') == field, body)
    check('... message says %r' % text, text in (error_of(r[2]) or ''), body)

# --- the hash binds; two approvers of two; the refusals -------------------
defn = {'params': [{'name': 'msg', 'type': 'string', 'required': True}],
        'approval': LEADS,
        'steps': [run_step('greet',
                           'echo {{ params.msg }} {{ execution.id }}')]}
wid = saved('a workflow needing two leads', defn)
r = start(wid, user=as_user('alice'), params={'msg': 'hi there'})
check_status('alice starts it', r, 201)
e = r[2]
eid = e['id']
check('it awaits approval', e['status'] == 'awaiting_approval', e)
check('its step is pending, nothing dispatched',
      e['steps'][0]['status'] == 'pending' and
      not e['steps'][0].get('dispatches'), e['steps'])
check('nothing was dispatched (database)', sql(
    "SELECT COUNT(*) FROM dispatches WHERE execution_id = '%s'" % eid) ==
    [['0']])
plan, h = e.get('plan'), e.get('plan_hash')
check('the plan is an object, the hash 64 hex', isinstance(plan, dict) and
      isinstance(h, str) and len(h) == 64, e)
row = sql("SELECT SHA2(plan, 256), plan_hash FROM executions "
          "WHERE id = '%s'" % eid)
check('plan_hash is the SHA-256 of the stored plan bytes',
      row == [[h, h]], row)
check('plan_hash is the SHA-256 of the plan in canonical JSON',
      hashlib.sha256(canonical(plan).encode()).hexdigest() == h,
      canonical(plan))
check('the stored plan is canonical (sorted keys, no spaces)', sql(
    "SELECT plan FROM executions WHERE id = '%s'" % eid) ==
    [[canonical(plan)]])
check('the plan names the workflow and its version',
      plan['workflow_id'] == wid and plan['version'] == 1, plan)
check('the plan holds the params', plan['params'] == {'msg': 'hi there'},
      plan)
expected = "echo 'hi there' '%s'" % eid
check('the plan\'s command is expanded for this execution',
      plan['steps'][0]['command'] == expected, plan['steps'])
check('no on_failure in the plan when the definition has none',
      'on_failure' not in plan, plan)
check('approval: required, approvers, expires_in, expires_at',
      e['approval'] and e['approval']['required'] == 2 and
      e['approval']['approvers'] == ['leads'] and
      e['approval']['expires_in'] == 600000 and
      isinstance(e['approval'].get('expires_at'), str), e['approval'])
check('no approvals yet', e['approvals'] == [], e['approvals'])
check('the starter sees why they cannot approve',
      e['can_approve'] is False and 'you started this execution' in
      (e['approve_refusal'] or ''), e)
g = execution(eid, user=as_user('bob'))
check('bob can approve', g and g['can_approve'] is True and
      g['approve_refusal'] is None, g)
g = execution(eid, user='employee')
check('employee cannot: not in leads', g and g['can_approve'] is False and
      'leads' in (g['approve_refusal'] or ''), g)
# The view the dashboard loads says the same.
for u, can, why in (('bob', True, None), ('alice', False,
                    'you started this execution'),
                    ('employee', False, 'leads')):
    r = call('GET', '/api/executions/%s?view=groups' % eid, user=as_user(u))
    check_status('?view=groups as %s' % u, r, 200)
    g = r[2] if isinstance(r[2], dict) else {}
    check('... can_approve %s' % can, g.get('can_approve') is can, g)
    check('... approve_refusal %s' % (why or 'null'),
          g.get('approve_refusal') is None if why is None else
          why in (g.get('approve_refusal') or ''), g.get('approve_refusal'))

r = call('GET', '/api/executions?status=awaiting_approval')
check_status('?status=awaiting_approval', r, 200)
check('... lists it, and only awaiting ones',
      any(x['id'] == eid for x in r[2]) and
      all(x['status'] == 'awaiting_approval' for x in r[2]), r[2])
r = call('GET', '/api/executions?status=bogus')
check_status('?status=bogus refused', r, 400)
check('... naming status', isinstance(r[2], dict) and
      r[2].get('field') == 'status', r[2])

r = decide(eid, 'alice', h)
check_status('the starter approving: 403', r, 403)
check('... "another person must approve it"',
      'another person must approve it' in (error_of(r[2]) or ''), r[2])
r = decide(eid, 'employee', h)
check_status('outside the approver groups: 403', r, 403)
check('... names the groups', 'approving needs membership of one of: leads'
      in (error_of(r[2]) or ''), r[2])
r = decide(eid, 'admin', h)
check_status('an admin is not an approver by role: 403', r, 403)
r = decide(eid, 'bob', '0' * 64)
check_status('a wrong hash: 409', r, 409)
check('... with the current hash', isinstance(r[2], dict) and
      r[2].get('plan_hash') == h and 'plan_hash does not match' in
      (r[2].get('error') or ''), r[2])
r = decide(eid, 'bob', h.upper())
check_status('a hash in upper case: 400 (not the hash)', r, 400)
check('... naming plan_hash', isinstance(r[2], dict) and
      r[2].get('field') == 'plan_hash', r[2])
r = decide(eid, 'bob', h, decision='maybe')
check_status('decision maybe: 400', r, 400)
check('... naming decision', r[2].get('field') == 'decision', r[2])
r = decide(eid, 'bob', h, comment='x' * 1001)
check_status('a comment of 1001 characters: 400', r, 400)
check('... naming comment', r[2].get('field') == 'comment', r[2])
r = call('POST', '/api/executions/%s/approve' % eid, user=as_user('bob'),
         body={'plan_hash': h, 'decision': 'approve', 'extra': 1})
check_status('an unknown field: 400', r, 400)
r = decide('00000000-0000-4000-8000-000000000000', 'bob', h)
check_status('no such execution: 404', r, 404)
check('... "no execution <id>"', 'no execution' in (error_of(r[2]) or ''),
      r[2])
check('nothing recorded by the refusals', approvals_rows(eid) == [] and
      audit_rows(eid, 'execution.approve') == [], approvals_rows(eid))

# Edit the workflow after the request: the frozen plan still runs.
defn2 = dict(defn)
defn2['steps'] = [run_step('greet', 'echo EDITED')]
r = save(defn2, wid=wid)
check_status('the workflow is edited after the request', r, 200)
g = execution(eid)
check('the plan and its hash are unchanged', g['plan_hash'] == h and
      g['plan'] == plan, g['plan'])

r = decide(eid, 'bob', h, comment='looks right')
check_status('bob approves', r, 200)
check('... 1 of 2: still awaiting', r[2]['status'] == 'awaiting_approval' and
      len(r[2]['approvals']) == 1 and r[2]['approvals'][0]['approver'] ==
      'bob' and r[2]['approvals'][0]['decision'] == 'approve' and
      r[2]['approvals'][0]['comment'] == 'looks right', r[2])
check('... bob sees he cannot approve again', r[2]['can_approve'] is False
      and 'you already approved this execution at' in
      (r[2]['approve_refusal'] or ''), r[2])
r = decide(eid, 'bob', h)
check_status('bob again: 409', r, 409)
check('... "you already approved this execution at"',
      'you already approved this execution at' in (error_of(r[2]) or ''),
      r[2])
r = decide(eid, 'carol', h)
check_status('carol approves', r, 200)
check('... 2 of 2: it runs', r[2]['status'] in ('running', 'completed'),
      r[2]['status'])
f = wait_execution(eid, FINAL)
check('it completes', f and f['status'] == 'completed', f)
d = (f['steps'][0].get('dispatches') or [{}])[0]
check('the worker ran the plan\'s command, not the edited one',
      f['steps'][0].get('command') == plan['steps'][0]['command'] and
      d.get('stdout') == 'hi there %s\n' % eid, (f['steps'][0], d))
check('the command stored on the dispatch is the plan\'s', sql(
    "SELECT command FROM dispatches WHERE execution_id = '%s'" % eid) ==
    [[plan['steps'][0]['command']]])
check('it ran version 1', f['workflow_version'] == 1, f['workflow_version'])
check('approvals: bob then carol', [(a['approver'], a['decision'])
      for a in f['approvals']] == [('bob', 'approve'), ('carol', 'approve')],
      f['approvals'])
check('one audit row per approval, with the hash signed',
      audit_rows(eid, 'execution.approve') == [['bob', h], ['carol', h]],
      audit_rows(eid, 'execution.approve'))
r = call('GET', '/api/audit?action=execution.approve&target=' + eid)
check_status('GET /api/audit lists them', r, 200)
check('... two entries', len(r[2].get('entries', [])) == 2, r[2])
r = call('GET', '/api/audit/verify')
check('the audit chain still verifies', r[0] == 200 and r[2].get('ok'), r)
r = decide(eid, 'alice', h)
check_status('approving a finished execution: 409', r, 409)
check('... "execution is completed: its approval is closed"',
      'execution is completed: its approval is closed' in
      (error_of(r[2]) or ''), r[2])
ev = sql("SELECT JSON_VALUE(payload, '$.event'), "
         "JSON_VALUE(payload, '$.approvals'), "
         "JSON_VALUE(payload, '$.by') FROM events WHERE execution_id = '%s' "
         "AND type = 'execution_approval' ORDER BY id" % eid)
check('events: requested, approved by bob (1), approved by carol (2)',
      ev == [['requested', '0', 'NULL'], ['approved', '1', 'bob'],
             ['approved', '2', 'carol']], ev)
st = sql("SELECT JSON_VALUE(payload, '$.status') FROM events "
         "WHERE execution_id = '%s' AND type = 'execution_status' "
         "ORDER BY id" % eid)
check('status events: awaiting_approval, running, completed',
      st == [['awaiting_approval'], ['running'], ['completed']], st)

# Typed values expand in the plan exactly as the step expands them.
tid = saved('typed parameters', {
    'params': [{'name': 'n', 'type': 'integer'},
               {'name': 'r', 'type': 'number'},
               {'name': 'b', 'type': 'boolean'},
               {'name': 'c', 'type': 'choice', 'options': ['x y', 'z']}],
    'approval': {'approvers': ['leads']},
    'steps': [run_step('typed', 'echo {{ params.n }} {{ params.r }} '
                       '{{ params.b }} {{ params.c }} '
                       '{{ execution.started_by }}')]})
r = start(tid, params={'n': 7, 'r': 0.1, 'b': True, 'c': 'x y'})
check_status('started with typed values', r, 201)
t = r[2]
r = decide(t['id'], 'carol', t['plan_hash'])
check_status('carol approves', r, 200)
f = wait_execution(t['id'], FINAL)
check('the command run is the plan\'s, value for value',
      f and f['status'] == 'completed' and
      f['steps'][0].get('command') == t['plan']['steps'][0]['command'],
      f and (f['steps'][0].get('command'), t['plan']['steps'][0]['command']))
check('... and says what it should',
      f and f['steps'][0]['dispatches'][0]['stdout'] ==
      '7 0.1 true x y admin\n', f and f['steps'][0]['dispatches'])

# A parallel group's steps and the on_failure steps are expanded too.
gid = saved('a group and on_failure steps', {
    'params': [{'name': 'p', 'type': 'string', 'default': 'v'}],
    'approval': {'approvers': ['leads']},
    'steps': [{'name': 'both', 'type': 'parallel', 'steps': [
        run_step('a', 'echo {{ params.p }} a'), run_step('b', 'echo b')]}],
    'on_failure': [run_step('undo', 'echo {{ params.p }} failed')]})
r = start(gid)
check_status('started', r, 201)
gp = r[2].get('plan') or {}
check('the group\'s step expanded in the plan',
      gp.get('steps', [{}])[0].get('steps', [{}])[0].get('command') ==
      "echo 'v' a", gp)
check('the on_failure step expanded in the plan, on_failure present',
      gp.get('on_failure', [{}])[0].get('command') == "echo 'v' failed", gp)
check('the default value is in the plan\'s params',
      gp.get('params') == {'p': 'v'}, gp)
r = call('POST', '/api/executions/%s/cancel' % r[2]['id'], body={})
check_status('cancelled', r, 200)

# --- rejection --------------------------------------------------------------
wid1 = saved('a workflow needing one lead', {
    'approval': {'approvers': ['leads']},
    'steps': [run_step('never', 'echo should-not-run')]})
ws = wsclient.connect('/ws', 'pulse-browser', headers={'Origin': origin()},
                     auth=('bob', 'bob'), timeout=15)
require('a browser (bob) connects', ws.recv_json(15) is not None)
r = start(wid1)
check_status('admin starts it', r, 201)
e = r[2]
check('defaults: required 1, 24 h', e['approval'] and
      e['approval']['required'] == 1 and
      e['approval']['expires_in'] == 86400000, e['approval'])
r = decide(e['id'], 'bob', e['plan_hash'], 'reject', 'not on a Friday')
check_status('bob rejects', r, 200)
_, seen = ws.recv_until(lambda m: m.get('execution_id') == e['id'] and
                        m.get('type') == 'execution_status' and
                        m.get('status') == 'rejected', 15)
ws.close()
live = [(m['type'], m.get('status') or m.get('event')) for m in seen
        if m.get('execution_id') == e['id'] and m['type'] in (
            'execution_started', 'execution_status', 'execution_approval')]
check('the browser got them live: started, awaiting_approval, requested, '
      'rejected (by bob), then the status rejected',
      live == [('execution_started', None),
               ('execution_status', 'awaiting_approval'),
               ('execution_approval', 'requested'),
               ('execution_approval', 'rejected'),
               ('execution_status', 'rejected')], live)
req = [m for m in seen if m.get('execution_id') == e['id'] and
       m.get('type') == 'execution_approval']
check('... the request names the workflow, the hash, required, approvers, '
      'expires_at and the count', req and req[0].get('workflow_id') == wid1
      and req[0].get('workflow_name') and req[0].get('plan_hash') ==
      e['plan_hash'] and req[0].get('required') == 1 and
      req[0].get('approvers') == ['leads'] and
      isinstance(req[0].get('expires_at'), str) and
      req[0].get('approvals') == 0, req)
check('... the decision says by whom', len(req) == 2 and
      req[1].get('by') == 'bob' and req[1].get('approvals') == 0, req)
check('... it ended rejected, saying who and why',
      r[2]['status'] == 'rejected' and r[2]['completed_at'] and
      'rejected by bob: not on a Friday' in (r[2]['error'] or ''), r[2])
check('... its step never ran', r[2]['steps'][0]['status'] == 'cancelled'
      and sql("SELECT COUNT(*) FROM dispatches WHERE execution_id = '%s'" %
              e['id']) == [['0']], r[2]['steps'])
check('... one audit row execution.reject',
      audit_rows(e['id'], 'execution.reject') == [['bob', e['plan_hash']]])
r = decide(e['id'], 'carol', e['plan_hash'])
check_status('approving after the rejection: 409', r, 409)
check('... closed', 'execution is rejected: its approval is closed' in
      (error_of(r[2]) or ''), r[2])

# --- cancel while awaiting ---------------------------------------------------
r = start(wid1, user=as_user('alice'))
check_status('alice starts another', r, 201)
cid = r[2]['id']
r = call('DELETE', '/api/workflows/' + wid1)
check_status('deleting its workflow while it awaits approval: 409', r, 409)
check('... "awaiting approval" among the reasons', 'awaiting approval' in
      (error_of(r[2]) or ''), r[2])
r = call('POST', '/api/executions/%s/cancel' % cid, user=as_user('alice'),
         body={})
check_status('alice cancels it while it awaits approval', r, 200)
check('... cancelled', r[2]['status'] == 'cancelled', r[2])
r = decide(cid, 'bob', r[2]['plan_hash'])
check_status('approving the cancelled one: 409', r, 409)

# --- expiry ------------------------------------------------------------------
wid2 = saved('a workflow whose approval lasts 1.5 s', {
    'approval': {'approvers': ['leads'], 'expires_in': 1500},
    'steps': [run_step('late', 'echo too-late')]})
r = start(wid2)
check_status('admin starts it', r, 201)
xid, xh = r[2]['id'], r[2]['plan_hash']
f = wait_execution(xid, FINAL, timeout=20)
check('pushd ends it expired', f and f['status'] == 'expired', f)
check('... "approval expired at"', f and 'approval expired at' in
      (f['error'] or '') and f['completed_at'], f)
r = decide(xid, 'bob', xh)
check_status('approving after expiry: 409', r, 409)
check('... "execution is expired: its approval is closed"',
      'execution is expired: its approval is closed' in
      (error_of(r[2]) or ''), r[2])
check('nothing recorded', approvals_rows(xid) == [])

# --- concurrent approvals: three of required 2 -------------------------------
wid3 = saved('two of three, concurrently', {
    'approval': {'required': 2, 'approvers': ['leads']},
    'steps': [run_step('once', 'echo once')]})
r = start(wid3)
check_status('admin starts it', r, 201)
kid, kh = r[2]['id'], r[2]['plan_hash']
results = {}
go = threading.Barrier(3)


def approve_as(u):
    go.wait()
    results[u] = decide(kid, u, kh)


threads = [threading.Thread(target=approve_as, args=(u,))
           for u in ('alice', 'bob', 'carol')]
for t in threads:
    t.start()
for t in threads:
    t.join()
codes = sorted(results[u][0] for u in results)
check('two answered 200, one 409', codes == [200, 200, 409],
      {u: (results[u][0], error_of(results[u][2])) for u in results})
late = [results[u] for u in results if results[u][0] == 409]
check('... the third: "its approval is closed"', late and
      'its approval is closed' in (error_of(late[0][2]) or ''),
      late and late[0][2])
check('exactly two approvals recorded', len(approvals_rows(kid)) == 2,
      approvals_rows(kid))
f = wait_execution(kid, FINAL)
check('it completes', f and f['status'] == 'completed', f)
check('one dispatch: started once', sql(
    "SELECT COUNT(*) FROM dispatches WHERE execution_id = '%s'" % kid) ==
    [['1']])
check('one running status event', sql(
    "SELECT COUNT(*) FROM events WHERE execution_id = '%s' AND type = "
    "'execution_status' AND JSON_VALUE(payload, '$.status') = 'running'" %
    kid) == [['1']])

# --- a pinned sub-workflow runs the pinned version ---------------------------
child = saved('the child, version 1', {
    'steps': [run_step('child', 'echo child-v1')]})
r = save({'steps': [{'name': 'sub', 'type': 'workflow', 'workflow_id': child,
                     'workflow_version': 9}]})
check_status('workflow_version that does not exist: refused', r, 400)
check('... naming workflow_version', isinstance(r[2], dict) and
      r[2].get('field') == 'workflow_version' and 'has no version 9' in
      (error_of(r[2]) or ''), r[2])
r = save({'steps': [{'name': 'sub', 'type': 'workflow', 'workflow_id': child,
                     'workflow_version': 0}]})
check_status('workflow_version 0: refused', r, 400)
parent = saved('a parent with approval', {
    'approval': {'approvers': ['leads']},
    'steps': [{'name': 'sub', 'type': 'workflow', 'workflow_id': child}]})
r = start(parent)
check_status('admin starts the parent', r, 201)
pid, ph, pplan = r[2]['id'], r[2]['plan_hash'], r[2]['plan']
check('the plan pins the child at version 1',
      pplan['steps'][0].get('workflow_version') == 1, pplan)
r = save({'steps': [run_step('child', 'echo child-v2')]}, wid=child)
check_status('the child is edited (version 2)', r, 200)
r = decide(pid, 'carol', ph)
check_status('carol approves the parent', r, 200)
f = wait_execution(pid, FINAL)
check('the parent completes', f and f['status'] == 'completed', f)
kids = f.get('children') or []
cx = execution(kids[0]['id']) if kids else None
check('the child ran version 1 and its command',
      cx and cx['workflow_version'] == 1 and
      cx['steps'][0]['dispatches'][0]['stdout'] == 'child-v1\n', cx)

# A pinned workflow_version written by hand runs that version too.
hand = saved('a workflow pinning version 1 by hand', {
    'steps': [{'name': 'sub', 'type': 'workflow', 'workflow_id': child,
               'workflow_version': 1}]})
r = start(hand)
check_status('started', r, 201)
f = wait_execution(r[2]['id'], FINAL)
kids = (f or {}).get('children') or []
cx = execution(kids[0]['id']) if kids else None
check('its child ran version 1, not the latest 2',
      cx and cx['workflow_version'] == 1 and
      cx['steps'][0]['dispatches'][0]['stdout'] == 'child-v1\n', cx)

# A pinned step is checked at save against its version, not the latest.
r = save({'params': [{'name': 'who', 'type': 'string', 'required': True}],
          'steps': [run_step('child', 'echo {{ params.who }}')]}, wid=child)
check_status('the child is edited again (version 3, a required parameter)',
             r, 200)
r = save({'steps': [{'name': 'sub', 'type': 'workflow', 'workflow_id': child,
                     'workflow_version': 1}]})
check_status('pinning version 1 (no parameters) saves', r, 201)
r = save({'steps': [{'name': 'sub', 'type': 'workflow', 'workflow_id': child,
                     'workflow_version': 3}]})
check_status('pinning version 3 without its required value: refused', r, 400)
check('... naming params.who', isinstance(r[2], dict) and
      r[2].get('field') == 'params.who', r[2])

# A child with its own approval waits for it; its parent's step waits.
gated = saved('a child needing approval', {
    'approval': {'approvers': ['leads']},
    'steps': [run_step('gated', 'echo gated')]})
outer = saved('a parent of a gated child', {
    'steps': [{'name': 'sub', 'type': 'workflow', 'workflow_id': gated}]})
r = start(outer)
check_status('started', r, 201)
oid = r[2]['id']
time.sleep(1)
o = execution(oid)
kids = (o or {}).get('children') or []
cx = execution(kids[0]['id']) if kids else None
check('the child awaits its own approval, the parent runs',
      cx and cx['status'] == 'awaiting_approval' and
      o['status'] == 'running', (o and o['status'], cx and cx['status']))
if cx:
    r = decide(cx['id'], 'bob', cx['plan_hash'], 'reject', 'no')
    check_status('bob rejects the child', r, 200)
f = wait_execution(oid, FINAL)
check('the child\'s rejection fails the parent\'s step',
      f and f['status'] == 'failed' and 'was rejected' in
      (f['steps'][0].get('reason') or ''), f and f['steps'])

# --- the whole tree is pinned: parent -> child -> grandchild --------------
grand = saved('a grandchild', {'steps': [run_step('g', 'echo g-v1')]})
mid = saved('a child calling the grandchild', {
    'steps': [{'name': 'sub', 'type': 'workflow', 'workflow_id': grand}]})
top = saved('a parent with approval over two levels', {
    'approval': {'approvers': ['leads']},
    'steps': [{'name': 'sub', 'type': 'workflow', 'workflow_id': mid}]})
r = start(top)
check_status('admin starts the parent of two levels', r, 201)
tid, th, tplan = r[2]['id'], r[2]['plan_hash'], r[2]['plan']
check('the plan pins every workflow of the tree at its version',
      tplan.get('subworkflows') == {mid: 1, grand: 1}, tplan)
check('... and is hashed with it',
      hashlib.sha256(canonical(tplan).encode()).hexdigest() == th)
r = save({'steps': [run_step('g', 'echo g-v2')]}, wid=grand)
check_status('the grandchild is edited (version 2)', r, 200)
r = start(top)
check_status('a second start after the edit', r, 201)
t2 = r[2]
check('... its plan pins the grandchild at version 2',
      (t2.get('plan') or {}).get('subworkflows') == {mid: 1, grand: 2},
      t2.get('plan'))
check('... so its hash differs: a grandchild\'s version is signed',
      t2.get('plan_hash') != th, (th, t2.get('plan_hash')))
r = call('POST', '/api/executions/%s/cancel' % t2['id'], body={})
check_status('the second is cancelled', r, 200)
r = decide(tid, 'carol', th)
check_status('carol approves the first', r, 200)
f = wait_execution(tid, FINAL)
check('the parent completes', f and f['status'] == 'completed', f)
kids = (f or {}).get('children') or []
cx = execution(kids[0]['id']) if kids else None
gkids = (cx or {}).get('children') or []
gx = execution(gkids[0]['id']) if gkids else None
check('the grandchild ran version 1, as approved, not the edit',
      gx and gx['workflow_version'] == 1 and
      gx['steps'][0]['dispatches'][0]['stdout'] == 'g-v1\n', gx)
# Without an approval nothing is pinned: the latest runs.
r = start(mid)
check_status('the child started alone', r, 201)
f = wait_execution(r[2]['id'], FINAL)
gkids = (f or {}).get('children') or []
gx = execution(gkids[0]['id']) if gkids else None
check('... its child runs the latest version (2)',
      gx and gx['workflow_version'] == 2 and
      gx['steps'][0]['dispatches'][0]['stdout'] == 'g-v2\n', gx)

# --- a template that cannot expand: 400 naming the field, nothing created ---
big = saved('a command too long once expanded', {
    'params': [{'name': 'x', 'type': 'string', 'max_length': 65536}],
    'approval': {'approvers': ['leads']},
    'steps': [run_step('big', 'echo {{ params.x }}')]})
before = sql("SELECT COUNT(*) FROM executions WHERE workflow_id = '%s'" % big)
r = start(big, params={'x': "'" * 30000})
check_status('a plan whose command does not expand: 400', r, 400)
check('... naming steps[0].command', isinstance(r[2], dict) and
      r[2].get('field') == 'steps[0].command', r[2])
check('... nothing created', sql(
    "SELECT COUNT(*) FROM executions WHERE workflow_id = '%s'" % big) ==
    before)

# --- expiry does not need the definition, and one row blocks no other -------
slow = saved('an approval for expiry by SQL', {
    'approval': {'approvers': ['leads']},
    'steps': [run_step('s', 'echo never')]})
bad = start(slow)[2]['id']
nxt = start(slow)[2]['id']
# The stored definition no longer parses as a workflow, and 100 more such
# rows are due before the good one: a full batch (PULSE_APPROVAL_EXPIRE_BATCH).
sql("UPDATE executions SET definition = '{\"steps\":7}', "
    "approval_expires_at = NOW(3) - INTERVAL 5 SECOND WHERE id = '%s'" % bad)
sql("INSERT INTO executions (id, workflow_id, workflow_version, kind, "
    "workflow_name, definition, status, started_by, started_at, "
    "current_step, plan, plan_hash, approval, approval_expires_at) "
    "SELECT UUID(), workflow_id, workflow_version, kind, workflow_name, "
    "definition, status, started_by, started_at, 0, plan, plan_hash, "
    "approval, NOW(3) - INTERVAL 4 SECOND FROM executions, seq_1_to_100 "
    "WHERE id = '%s'" % bad)
sql("UPDATE executions SET approval_expires_at = NOW(3) - INTERVAL 1 SECOND "
    "WHERE id = '%s'" % nxt)


def status_of(x):
    return (sql("SELECT status FROM executions WHERE id = '%s'" % x) or
            [['?']])[0][0]


ok = wait_for(lambda: status_of(bad) == 'expired' and
              status_of(nxt) == 'expired', 30)
check('an unreadable definition expires all the same',
      status_of(bad) == 'expired', status_of(bad))
check('... and the one due behind 101 of them too',
      status_of(nxt) == 'expired', status_of(nxt))
check('no approval stays due', sql(
    "SELECT COUNT(*) FROM executions WHERE status = 'awaiting_approval' "
    "AND approval_expires_at <= NOW(3) - INTERVAL 1 SECOND") == [['0']])

done()
