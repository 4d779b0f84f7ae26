#!/usr/bin/env python3
"""The audit trail and workflow versions (SPEC section 13).

Table-driven: ROUTES below has one entry for every mutating route (POST,
PUT, PATCH, DELETE) of the route table in fcgi-api/router.c; each performs
a successful request and the test asserts exactly one new audit row with
the right action, target, actor and client address. A mutating route that
router.c has and ROUTES lacks fails the test, so a new route cannot slip
in without its audit row. Then: failed requests write none; the chain
verifies; a row edited by SQL is named by verify, a deleted row makes it
name the row after it, a deleted newest row is caught by the chain head;
8 concurrent writers keep one chain; GET /api/audit filters, pages and is
for admins; every save is a numbered version and an execution shows the
version it ran."""

import hashlib
import hmac
import json
import os
import re
import threading
import uuid

from pulse_test import (accept_if_pending, at_end, call, check, check_status,
                        done, enroll_accepted, enroll_raw, find_worker,
                        have_ctl, heartbeat, make_token, prompt_step,
                        require, route_table, sql, start_execution, unique,
                        wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTER = os.path.join(HERE, '..', '..', 'fcgi-api', 'router.c')
MUTATING = ('POST', 'PUT', 'PATCH', 'DELETE')
# Sent with every request: a client's claim of another address must not
# reach client_addr (nginx/fastcgi-params.conf: REMOTE_ADDR is the peer).
SPOOF = {'X-Forwarded-For': '10.9.8.7', 'X-Real-IP': '10.9.8.6',
         'Forwarded': 'for=10.9.8.5'}
PEER = '127.0.0.1'


def audit_page(query=''):
    r = call('GET', '/api/audit' + query)
    return r[2] if r[0] == 200 and isinstance(r[2], dict) else None


def last_id():
    p = audit_page('?limit=1')
    if p is None or not isinstance(p.get('entries'), list):
        return None
    return p['entries'][0]['id'] if p['entries'] else 0


def rows_after(before_id, actors=('admin', 'employee')):
    """Rows after before_id by these actors: a worker agent that some
    other test left running may enroll itself again meanwhile (its own
    worker.enroll row), which is no row of the request under test."""
    p = audit_page('?limit=500')
    return [e for e in (p or {}).get('entries', []) if e['id'] > before_id
            and (actors is None or e['actor'] in actors)]


def verify():
    r = call('GET', '/api/audit/verify')
    return r[2] if r[0] == 200 and isinstance(r[2], dict) else {}


def wf_body(name, steps):
    return {'name': name, 'definition': {'steps': steps}}


def wait_step(ms=0):
    return {'name': 'w', 'type': 'wait', 'duration': ms}


def new_workflow(steps=None, prefix='aud'):
    r = call('POST', '/api/workflows',
             body=wf_body(unique(prefix), steps or [wait_step()]))
    require('set-up: create a workflow', r[0] == 201, r)
    wid = r[2]['id']
    at_end(lambda: call('DELETE', '/api/workflows/' + wid))
    return r[2]


def settled(eid):
    r = call('GET', '/api/executions/' + eid)
    return isinstance(r[2], dict) and r[2].get('status') in (
        'completed', 'failed', 'cancelled') and r[2]


def groups_of(user):
    r = call('GET', '/api/user', user=user)
    return r[2].get('groups') if isinstance(r[2], dict) else None


# --- one entry per mutating route ------------------------------------------
# Each entry does its own set-up and returns (method, path, body, expect):
# the request to audit and what its one row must say.

def e_heartbeat():
    name = unique('aud-hb')
    wid = str(uuid.uuid4())
    at_end(lambda: call('DELETE', '/api/workers/' + wid))
    return ('POST', '/api/workers/heartbeat', {
        'worker_id': wid, 'name': name, 'metadata': {'groups': ['g1']}},
        {'action': 'worker.enroll', 'target_type': 'worker',
         'target_id': wid, 'actor': 'worker:' + name, 'user': None,
         'details': lambda d: d.get('name') == name and
         d.get('groups') == ['g1']})


def e_worker_delete():
    name = unique('aud-del')
    wid = str(uuid.uuid4())
    require('set-up: a worker to delete',
            heartbeat(name, worker_id=wid)[0] == 200)
    return ('DELETE', '/api/workers/' + wid, None,
            {'action': 'worker.delete', 'target_type': 'worker',
             'target_id': wid})


def e_worker_command():
    w = wait_for(lambda: find_worker('local-1'), 10)
    require('set-up: the stack worker local-1 is there', w, w)
    accept_if_pending('local-1')	# a shared-key agent: pending at first
    return ('POST', '/api/workers/%s/command' % w['id'],
            {'command': 'true', 'timeout': 10000},
            {'action': 'worker.command', 'target_type': 'worker',
             'target_id': w['id'],
             'details': lambda d: d.get('command') == 'true' and
             d.get('worker_name') == 'local-1'})


def e_worker_enroll():
    name = unique('aud-enr')
    return ('POST', '/api/workers/enroll', {'name': name, 'groups': ['g1']},
            {'action': 'worker.enroll', 'target_type': 'worker',
             'target_id': lambda r: r[2]['worker_id'],
             'actor': 'worker:' + name, 'user': None,
             'details': lambda d: d.get('name') == name and
             d.get('via') == 'shared key' and d.get('state') == 'pending' and
             d.get('requested_groups') == ['g1']},
            lambda r: at_end(lambda: call('DELETE', '/api/workers/' +
                                          r[2]['worker_id'])))


def pending_worker():
    r = enroll_raw(unique('aud-pend'), ['g1'])
    require('set-up: a pending worker', r[0] == 201, r)
    wid = r[2]['worker_id']
    at_end(lambda: call('DELETE', '/api/workers/' + wid))
    return wid


def e_worker_accept():
    wid = pending_worker()
    return ('POST', '/api/workers/%s/accept' % wid, {'groups': ['g2']},
            {'action': 'worker.accept', 'target_type': 'worker',
             'target_id': wid,
             'details': lambda d: d.get('groups') == ['g2']})


def e_worker_revoke():
    wid = pending_worker()
    return ('POST', '/api/workers/%s/revoke' % wid, None,
            {'action': 'worker.revoke', 'target_type': 'worker',
             'target_id': wid})


def e_worker_rotate():
    wid, _ = enroll_accepted(unique('aud-rot'))
    return ('POST', '/api/workers/%s/rotate' % wid, None,
            {'action': 'worker.rotate', 'target_type': 'worker',
             'target_id': wid})


def e_worker_groups():
    wid = pending_worker()
    return ('PUT', '/api/workers/%s/groups' % wid, {'groups': ['g3']},
            {'action': 'worker.groups', 'target_type': 'worker',
             'target_id': wid,
             'details': lambda d: d.get('groups') == ['g3']})


def e_token_create():
    return ('POST', '/api/enrollment-tokens', {'groups': ['g1'], 'uses': 3},
            {'action': 'token.create', 'target_type': 'enrollment_token',
             'target_id': lambda r: r[2]['id'],
             'details': lambda d: d.get('groups') == ['g1'] and
             d.get('uses') == 3 and 'token' not in d})


def e_token_revoke():
    tid = make_token(['g1'])[2]['id']
    return ('DELETE', '/api/enrollment-tokens/' + tid, None,
            {'action': 'token.revoke', 'target_type': 'enrollment_token',
             'target_id': tid})


def e_workflow_create():
    name = unique('aud-c')
    return ('POST', '/api/workflows', wf_body(name, [wait_step()]),
            {'action': 'workflow.create', 'target_type': 'workflow',
             'target_id': lambda r: r[2]['id'],
             'details': lambda d: d.get('name') == name and
             d.get('version') == 1},
            lambda r: at_end(lambda: call('DELETE',
                                          '/api/workflows/' + r[2]['id'])))


def e_workflow_update():
    wf = new_workflow()
    body = wf_body(wf['name'] + '-2', [wait_step(5)])
    return ('PUT', '/api/workflows/' + wf['id'], body,
            {'action': 'workflow.update', 'target_type': 'workflow',
             'target_id': wf['id'],
             'details': lambda d: d.get('before', {}).get('name') ==
             wf['name'] and d['before'].get('definition') ==
             wf['definition'] and d['before'].get('version') == 1 and
             d.get('after', {}).get('name') == wf['name'] + '-2' and
             d['after'].get('definition') == body['definition'] and
             d['after'].get('version') == 2})


def e_workflow_delete():
    wf = new_workflow()
    return ('DELETE', '/api/workflows/' + wf['id'], None,
            {'action': 'workflow.delete', 'target_type': 'workflow',
             'target_id': wf['id']})


def e_execution_start():
    wf = new_workflow()
    return ('POST', '/api/executions', {'workflow_id': wf['id']},
            {'action': 'execution.start', 'target_type': 'execution',
             'target_id': lambda r: r[2]['id'],
             'details': lambda d: d.get('workflow_id') == wf['id'] and
             d.get('workflow_version') == 1})


def waiting_execution():
    wf = new_workflow([prompt_step('ask')])
    ex = start_execution(wf['id'])
    require('set-up: an execution waiting on a prompt', ex and
            wait_for(lambda: call('GET', '/api/executions/' + ex['id'])
                     [2].get('status') == 'waiting', 10), ex)
    return ex['id']


def e_execution_respond():
    eid = waiting_execution()
    return ('POST', '/api/executions/%s/respond' % eid, {'response': 'No'},
            {'action': 'execution.respond', 'target_type': 'execution',
             'target_id': eid,
             'details': lambda d: d == {'step': 0, 'response': 'No'}})


def e_execution_cancel():
    eid = waiting_execution()
    return ('POST', '/api/executions/%s/cancel' % eid, None,
            {'action': 'execution.cancel', 'target_type': 'execution',
             'target_id': eid,
             'details': lambda d: d.get('status_before') == 'waiting'})


def e_execution_approve():
    # Decided by bob, of the approver group leads: an admin is none.
    r = call('POST', '/api/workflows', body={
        'name': unique('aud'), 'definition': {
            'approval': {'approvers': ['leads']}, 'steps': [wait_step()]}})
    require('set-up: a workflow needing approval', r[0] == 201, r)
    wid = r[2]['id']
    at_end(lambda: call('DELETE', '/api/workflows/' + wid))
    ex = start_execution(wid)
    require('set-up: an execution awaiting approval', ex and
            ex.get('status') == 'awaiting_approval', ex)
    h = ex['plan_hash']
    return ('POST', '/api/executions/%s/approve' % ex['id'],
            {'plan_hash': h, 'decision': 'approve', 'comment': 'ok'},
            {'action': 'execution.approve', 'target_type': 'execution',
             'target_id': ex['id'], 'user': ('bob', 'bob'), 'actor': 'bob',
             'details': lambda d: d == {'plan_hash': h, 'comment': 'ok'}})


def new_channel():
    r = call('POST', '/api/channels', body={
        'name': unique('aud-ch'), 'type': 'webhook',
        'url': 'http://user:pw@127.0.0.1:9/hook'})
    require('a channel to audit', r[0] == 201, r)
    at_end(lambda: call('DELETE', '/api/channels/' + r[2]['id']))
    return r[2]


def e_channel_create():
    name = unique('aud-ch')
    return ('POST', '/api/channels', {'name': name, 'type': 'slack',
                                      'url': 'https://u:pw@127.0.0.1:9/T/B/k'},
            {'action': 'channel.create', 'target_type': 'channel',
             'target_id': lambda r: r[2]['id'],
             'details': lambda d: d.get('name') == name and
             d.get('url') == 'https://127.0.0.1:9/\u2026' and
             'pw' not in str(d)},
            lambda r: at_end(lambda: call('DELETE',
                                          '/api/channels/' + r[2]['id'])))


def e_channel_delete():
    ch = new_channel()
    return ('DELETE', '/api/channels/' + ch['id'], None,
            {'action': 'channel.delete', 'target_type': 'channel',
             'target_id': ch['id']})


def e_channel_test():
    ch = new_channel()
    return ('POST', '/api/channels/%s/test' % ch['id'], None,
            {'action': 'channel.test', 'target_type': 'channel',
             'target_id': ch['id']})


def e_notification_retry():
    ch = new_channel()
    sql("INSERT INTO notifications (channel_id, event, payload, status, "
        "delivery_id) VALUES ('%s', 'test', '{}', 'dead', UUID())" % ch['id'])
    nid = sql("SELECT MAX(id) FROM notifications WHERE channel_id = '%s'"
              % ch['id'])[0][0]
    return ('POST', '/api/notifications/%s/retry' % nid, None,
            {'action': 'notification.retry', 'target_type': 'notification',
             'target_id': nid})
def new_trigger():
    wf = new_workflow([prompt_step('ask')], prefix='aud-trg')
    r = call('POST', '/api/triggers', body={'name': unique('aud-trg'),
                                            'workflow_id': wf['id']})
    require('set-up: a trigger', r[0] == 201, r)
    tid = r[2]['id']
    at_end(lambda: call('DELETE', '/api/triggers/' + tid))
    return r[2]


def e_trigger_create():
    wf = new_workflow([prompt_step('ask')], prefix='aud-trg')
    name = unique('aud-trg')

    def forget(r):
        at_end(lambda: call('DELETE', '/api/triggers/' + r[2]['id']))
    return ('POST', '/api/triggers', {'name': name, 'workflow_id': wf['id'],
                                      'params': {}},
            {'action': 'trigger.create', 'target_type': 'trigger',
             'target_id': lambda r: r[2]['id'],
             'details': lambda d: d.get('name') == name and
             d.get('workflow_id') == wf['id'] and 'secret' not in d},
            forget)


def e_trigger_rotate():
    t = new_trigger()
    return ('POST', '/api/triggers/%s/rotate' % t['id'], None,
            {'action': 'trigger.rotate', 'target_type': 'trigger',
             'target_id': t['id']})


def e_trigger_update():
    t = new_trigger()
    return ('PUT', '/api/triggers/' + t['id'], {'enabled': False,
                                                'params': {'v': 'a.b'}},
            {'action': 'trigger.update', 'target_type': 'trigger',
             'target_id': t['id'],
             'details': lambda d: d.get('before') == {
                 'enabled': True, 'params': {}} and d.get('after') == {
                 'enabled': False, 'params': {'v': 'a.b'}}})


def e_trigger_delete():
    t = new_trigger()
    return ('DELETE', '/api/triggers/' + t['id'], None,
            {'action': 'trigger.delete', 'target_type': 'trigger',
             'target_id': t['id']})


def e_hook():
    t = new_trigger()
    body = {'ref': 'main'}
    mac = hmac.new(t['secret'].encode(), json.dumps(body).encode(),
                   hashlib.sha256).hexdigest()
    return ('POST', '/hooks/' + t['id'], body,
            {'action': 'execution.start', 'target_type': 'execution',
             'target_id': lambda r: r[2]['execution_id'],
             'actor': 'trigger:' + t['name'], 'user': None,
             'headers': {'X-Pulse-Signature': 'sha256=' + mac},
             'details': lambda d: d.get('workflow_id') == t['workflow_id']})


def new_schedule():
    wf = new_workflow()
    r = call('POST', '/api/schedules', body={
        'workflow_id': wf['id'], 'name': unique('aud-sch'),
        'cron': '0 3 * * *', 'timezone': 'UTC'})
    require('set-up: a schedule', r[0] == 201, r)
    sid = r[2]['id']
    at_end(lambda: call('DELETE', '/api/schedules/' + sid))
    return wf, r[2]


def e_schedule_create():
    wf = new_workflow()
    name = unique('aud-sch')
    return ('POST', '/api/schedules', {
        'workflow_id': wf['id'], 'name': name, 'cron': '*/5 * * * *',
        'timezone': 'Europe/Berlin'},
        {'action': 'schedule.create', 'target_type': 'schedule',
         'target_id': lambda r: r[2]['id'],
         'details': lambda d: d.get('name') == name and
         d.get('cron') == '*/5 * * * *' and
         d.get('timezone') == 'Europe/Berlin'},
        lambda r: at_end(lambda: call('DELETE',
                                      '/api/schedules/' + r[2]['id'])))


def e_schedule_update():
    _, s = new_schedule()
    return ('PUT', '/api/schedules/' + s['id'], {'cron': '0 4 * * *'},
            {'action': 'schedule.update', 'target_type': 'schedule',
             'target_id': s['id'],
             'details': lambda d: d.get('before', {}).get('cron') ==
             '0 3 * * *' and d.get('after', {}).get('cron') ==
             '0 4 * * *'})


def e_schedule_delete():
    _, s = new_schedule()
    return ('DELETE', '/api/schedules/' + s['id'], None,
            {'action': 'schedule.delete', 'target_type': 'schedule',
             'target_id': s['id']})


# POST for its body only: a computation that changes nothing, so no row.
READ_ONLY = {('POST', '/api/schedules/preview'):
             {'cron': '0 * * * *', 'count': 3}}

ROUTES = {
    ('POST', '/api/triggers'): e_trigger_create,
    ('POST', '/api/triggers/:id/rotate'): e_trigger_rotate,
    ('PUT', '/api/triggers/:id'): e_trigger_update,
    ('DELETE', '/api/triggers/:id'): e_trigger_delete,
    ('POST', '/hooks/:id'): e_hook,
    ('POST', '/api/schedules'): e_schedule_create,
    ('PUT', '/api/schedules/:id'): e_schedule_update,
    ('DELETE', '/api/schedules/:id'): e_schedule_delete,
    ('POST', '/api/workers/heartbeat'): e_heartbeat,
    ('DELETE', '/api/workers/:id'): e_worker_delete,
    ('POST', '/api/workers/:id/command'): e_worker_command,
    ('POST', '/api/workers/enroll'): e_worker_enroll,
    ('POST', '/api/workers/:id/accept'): e_worker_accept,
    ('POST', '/api/workers/:id/revoke'): e_worker_revoke,
    ('POST', '/api/workers/:id/rotate'): e_worker_rotate,
    ('PUT', '/api/workers/:id/groups'): e_worker_groups,
    ('POST', '/api/enrollment-tokens'): e_token_create,
    ('DELETE', '/api/enrollment-tokens/:id'): e_token_revoke,
    ('POST', '/api/workflows'): e_workflow_create,
    ('PUT', '/api/workflows/:id'): e_workflow_update,
    ('DELETE', '/api/workflows/:id'): e_workflow_delete,
    ('POST', '/api/executions'): e_execution_start,
    ('POST', '/api/executions/:id/respond'): e_execution_respond,
    ('POST', '/api/executions/:id/cancel'): e_execution_cancel,
    ('POST', '/api/executions/:id/approve'): e_execution_approve,
    ('POST', '/api/channels'): e_channel_create,
    ('DELETE', '/api/channels/:id'): e_channel_delete,
    ('POST', '/api/channels/:id/test'): e_channel_test,
    ('POST', '/api/notifications/:id/retry'): e_notification_retry,
}

table = route_table(ROUTER)
require('routes[] parsed from fcgi-api/router.c', table, ROUTER)
mutating = [rt for rt in table if rt[0] in MUTATING]
missing = [rt for rt in mutating if rt not in ROUTES and rt not in READ_ONLY]
check('every mutating route in router.c has an audit entry here '
      '(%d routes)' % len(mutating), not missing,
      'add an entry to ROUTES in tests/integration/test_audit.py for: %s'
      % missing)
check('every entry here is a route of router.c',
      set(ROUTES) | set(READ_ONLY) <= set(mutating),
      sorted(set(ROUTES) | set(READ_ONLY) - set(mutating)))

# client_addr is nginx's $remote_addr: no config believes a header for it.
NGINX = os.path.join(HERE, '..', '..', 'nginx')
confs = {}
for d, _, files in os.walk(NGINX):
    for f in files:
        if f.endswith(('.conf', '.in')):
            with open(os.path.join(d, f), encoding='utf-8') as fh:
                confs[os.path.relpath(os.path.join(d, f), NGINX)] = fh.read()
code = {k: '\n'.join(line.split('#')[0] for line in v.splitlines())
        for k, v in confs.items()}
check('nginx/: no real_ip directive (a header never sets the address)',
      not [k for k, v in code.items() if re.search(r'\breal_ip', v)],
      [k for k, v in code.items() if re.search(r'\breal_ip', v)])
check('nginx/: REMOTE_ADDR is set once, to $remote_addr',
      [(k, v) for k in sorted(code) for v in re.findall(
          r'fastcgi_param\s+REMOTE_ADDR\s+(\S+);', code[k])] ==
      [('fastcgi-params.conf', '$remote_addr')])

admin_groups = groups_of('admin')
require('the admin has groups to record', isinstance(admin_groups, list),
        admin_groups)

for rt in mutating:
    fn = ROUTES.get(rt)
    if fn is None:
        continue
    name = '%s %s' % rt
    spec = fn()
    method, path, body, exp = spec[:4]
    after = spec[4] if len(spec) > 4 else None
    user = exp.get('user', 'admin')
    worker = user is None
    before = last_id()
    hdrs = dict(SPOOF)
    if worker:
        hdrs['X-API-Key'] = os.environ.get('PULSE_WORKER_API_KEY', '')
    if body is None and method != 'DELETE':
        hdrs['Content-Type'] = 'application/json'
    hdrs.update(exp.get('headers', {}))
    r = call(method, path, user=user, body=body, headers=hdrs)
    if not check('%s: succeeds' % name, 200 <= r[0] < 300, r):
        continue
    if after is not None:
        after(r)
    new = rows_after(before, ('admin', 'employee',
                                exp.get('actor', 'admin')))
    if not check('%s: exactly one new audit row' % name, len(new) == 1,
                 new):
        continue
    e = new[0]
    tid = exp['target_id'](r) if callable(exp['target_id']) \
        else exp['target_id']
    check('%s: action %s' % (name, exp['action']),
          e['action'] == exp['action'], e)
    check('%s: target %s' % (name, exp['target_type']),
          e['target_type'] == exp['target_type'] and e['target_id'] == tid,
          (e, tid))
    want_actor = exp.get('actor', 'admin')
    check('%s: actor %s' % (name, want_actor), e['actor'] == want_actor, e)
    if not worker:
        check('%s: the actor\'s groups' % name,
              e['actor_groups'] == (admin_groups if user == 'admin' else
                                    groups_of(user)), e)
    check('%s: client_addr is the peer nginx saw, not X-Forwarded-For'
          % name, e['client_addr'] == PEER, e)
    check('%s: at is ISO-8601 UTC with milliseconds' % name,
          re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$',
                   e.get('at') or '') is not None, e)
    if 'details' in exp:
        check('%s: details' % name, isinstance(e['details'], dict) and
              exp['details'](e['details']), e['details'])

for (method, path), body in READ_ONLY.items():
    before = last_id()
    r = call(method, path, body=body)
    check_status('%s %s' % (method, path), r, 200)
    check('%s %s writes no audit row' % (method, path),
          rows_after(before, ('admin',)) == [], rows_after(before, ('admin',)))

# A routine heartbeat (the worker exists) writes no row.
hb_id = str(uuid.uuid4())
hb_name = unique('aud-hb2')
heartbeat(hb_name, worker_id=hb_id)
at_end(lambda: call('DELETE', '/api/workers/' + hb_id))
before = last_id()
r = heartbeat(hb_name, worker_id=hb_id)
check_status('a routine heartbeat', r, 200)
check('a routine heartbeat writes no audit row',
      rows_after(before, ('worker:' + hb_name,)) == [],
      rows_after(before, None))

# --- failed requests write nothing -----------------------------------------
wf = new_workflow()
wf_prompt = new_workflow([prompt_step('ask')])
ex = start_execution(wf_prompt['id'])
require('set-up: an execution', ex)
wait_for(lambda: call('GET', '/api/executions/' + ex['id'])[2]
         .get('status') == 'waiting', 10)
rid = str(uuid.uuid4())
trg = new_trigger()
FAILS = [
    ('a hook with a wrong signature (401)', 'POST', '/hooks/' + trg['id'],
     {'ref': 'main'}, None, 401),
    ('PUT with an invalid definition (400)', 'PUT',
     '/api/workflows/' + wf['id'],
     wf_body('x', [{'name': 'a', 'type': 'nope'}]), 'admin', 400),
    ('PUT of a missing workflow (404)', 'PUT', '/api/workflows/' + rid,
     wf_body('x', [wait_step()]), 'admin', 404),
    ('POST /api/workflows as an employee (403)', 'POST', '/api/workflows',
     wf_body('x', [wait_step()]), 'employee', 403),
    ('DELETE of a workflow with an unfinished execution (409, rolled '
     'back)', 'DELETE', '/api/workflows/' + wf_prompt['id'], None, 'admin',
     409),
    ('start of a missing workflow (404)', 'POST', '/api/executions',
     {'workflow_id': rid}, 'admin', 404),
    ('respond with an option the prompt lacks (400)', 'POST',
     '/api/executions/%s/respond' % ex['id'], {'response': 'Maybe'},
     'admin', 400),
    ('DELETE of a missing worker (404)', 'DELETE', '/api/workers/' + rid,
     None, 'admin', 404),
    ('command to a missing worker (404)', 'POST',
     '/api/workers/%s/command' % rid, {'command': 'true'}, 'admin', 404),
]
for descr, method, path, body, user, code in FAILS:
    before = last_id()
    r = call(method, path, user=user, body=body)
    check_status(descr, r, code)
    check('%s: no audit row' % descr, rows_after(before) == [],
          rows_after(before))
call('POST', '/api/executions/%s/cancel' % ex['id'],
     headers={'Content-Type': 'application/json'})
before = last_id()
r = call('POST', '/api/executions/%s/cancel' % ex['id'],
         headers={'Content-Type': 'application/json'})
check_status('cancel of a cancelled execution (409)', r, 409)
check('cancel of a cancelled execution: no audit row',
      rows_after(before) == [])

# --- the chain --------------------------------------------------------------
v = verify()
check('GET /api/audit/verify: the chain holds', v.get('ok') is True and
      isinstance(v.get('rows'), int) and v['rows'] >= len(mutating), v)
n_rows = int(sql('SELECT COUNT(*) FROM audit_log')[0][0])
check('verify counted every row', v.get('rows') == n_rows, (v, n_rows))
ids = [int(x[0]) for x in sql('SELECT id FROM audit_log ORDER BY id')]
check('ids run 1, 2, 3... without gaps', ids == list(range(1, len(ids) + 1)),
      ids[:20])

require('PULSE_CTL is set (edits rows by SQL)', have_ctl())
# A row in the middle: its own hash no longer fits.
wfe = new_workflow()
call('PUT', '/api/workflows/' + wfe['id'],
     body=wf_body(wfe['name'], [wait_step(1)]))
mid = int(sql("SELECT MAX(id) FROM audit_log WHERE action = "
              "'workflow.update' AND target_id = '%s'" % wfe['id'])[0][0])
new_workflow()          # a row after it
sql("UPDATE audit_log SET details = JSON_SET(details, '$.after.name', "
    "'forged') WHERE id = %d" % mid)
v = verify()
check('details edited by SQL: verify names that row', v.get('ok') is False
      and v.get('first_bad_id') == mid and 'changed' in v.get('reason', ''),
      (mid, v))
check('and counts the rows before it', v.get('rows') == mid - 1, v)
sql("UPDATE audit_log SET details = JSON_SET(details, '$.after.name', "
    "'%s') WHERE id = %d" % (wfe['name'], mid))
check('put back, the chain holds again', verify().get('ok') is True,
      verify())

for col, val in (('actor', "'mallory'"), ('client_addr', "'10.0.0.1'"),
                 ('at', 'at + INTERVAL 1 SECOND'),
                 ('action', "'workflow.create'")):
    old = sql("SELECT %s FROM audit_log WHERE id = %d" % (
        col if col != 'at' else "DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f')",
        mid))[0][0]
    sql("UPDATE audit_log SET %s = %s WHERE id = %d" % (col, val, mid))
    v = verify()
    check('%s edited by SQL: verify names the row' % col,
          v.get('first_bad_id') == mid, v)
    sql("UPDATE audit_log SET %s = '%s' WHERE id = %d" % (col, old, mid))
check('each put back, the chain holds', verify().get('ok') is True,
      verify())

# A deleted row: the next row's prev_hash no longer fits.
sql('DROP TABLE IF EXISTS audit_saved')
sql('CREATE TABLE audit_saved AS SELECT * FROM audit_log WHERE id = %d'
    % mid)
sql('DELETE FROM audit_log WHERE id = %d' % mid)
v = verify()
check('a row deleted by SQL: verify names the row after it',
      v.get('ok') is False and v.get('first_bad_id') == mid + 1, (mid, v))
sql('INSERT INTO audit_log SELECT * FROM audit_saved')
check('put back, the chain holds again', verify().get('ok') is True,
      verify())
# The newest row has no successor: the chain head catches it.
top = last_id()
sql('TRUNCATE TABLE audit_saved')
sql('INSERT INTO audit_saved SELECT * FROM audit_log WHERE id = %d' % top)
sql('DELETE FROM audit_log WHERE id = %d' % top)
v = verify()
check('the newest row deleted: verify names it (the chain head has it)',
      v.get('ok') is False and v.get('first_bad_id') == top, (top, v))
sql('INSERT INTO audit_log SELECT * FROM audit_saved')
sql('DROP TABLE audit_saved')
# A row forged past the head.
sql("INSERT INTO audit_log (id, at, actor, action, prev_hash, hash) "
    "SELECT id + 1, at, 'mallory', 'workflow.delete', hash, hash "
    "FROM audit_log WHERE id = %d" % top)
v = verify()
check('a row inserted by SQL past the head: verify names it',
      v.get('ok') is False and v.get('first_bad_id') == top + 1, (top, v))
sql('DELETE FROM audit_log WHERE id = %d' % (top + 1))
check('the chain holds after the tamper tests', verify().get('ok') is True,
      verify())

# --- concurrent writers keep one chain --------------------------------------
THREADS, EACH = 8, 20
before = last_id()
errors = []
wfs = [new_workflow(prefix='aud-cc') for _ in range(THREADS)]
before = last_id()


def writer(i):
    for k in range(EACH):
        r = call('PUT', '/api/workflows/' + wfs[i]['id'],
                 body=wf_body('%s-%d' % (wfs[i]['name'], k),
                              [wait_step(k)]))
        if r[0] != 200:
            errors.append(r)


ts = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
for t in ts:
    t.start()
for t in ts:
    t.join()
check('%d threads x %d saves all succeed' % (THREADS, EACH), not errors,
      errors[:3])
new = rows_after(before)
check('each wrote exactly one row (%d)' % (THREADS * EACH),
      len(new) == THREADS * EACH - len(errors) and
      all(e['action'] == 'workflow.update' for e in new), len(new))
every = rows_after(before, None)    # with any other writer's meanwhile
ids = sorted(e['id'] for e in every)
check('the ids follow one another', ids == list(
    range(before + 1, before + 1 + len(ids))), ids[:10])
links = {e['id']: e for e in every}
check('each row\'s prev_hash is the hash of the row before it',
      all(links[i]['prev_hash'] == links[i - 1]['hash']
          for i in ids[1:]))
check('the chain verifies after concurrent writers',
      verify().get('ok') is True, verify())
for i in range(THREADS):
    r = call('GET', '/api/workflows/%s/versions' % wfs[i]['id'])
    if not check('workflow %d kept %d versions' % (i, EACH + 1),
                 r[0] == 200 and [x['version'] for x in r[2]] ==
                 list(range(EACH + 1, 0, -1)), r[2]):
        break

# --- GET /api/audit ----------------------------------------------------------
wfp = new_workflow(prefix='aud-page')
for k in range(3):
    call('PUT', '/api/workflows/' + wfp['id'],
         body=wf_body(wfp['name'], [wait_step(k + 1)]))
p = audit_page('?target=' + wfp['id'])
check('target= filters to the workflow\'s rows (create + 3 updates)',
      p and [e['action'] for e in p['entries']] ==
      ['workflow.update'] * 3 + ['workflow.create'], p)
check('newest first', p and [e['id'] for e in p['entries']] == sorted(
    [e['id'] for e in p['entries']], reverse=True), p)
check('a page that is not full has next_before null',
      p and p.get('next_before') is None, p)
p = audit_page('?action=workflow.update&actor=admin&target=' + wfp['id'])
check('actor= and action= filter too', p and len(p['entries']) == 3 and
      all(e['action'] == 'workflow.update' and e['actor'] == 'admin'
          for e in p['entries']), p)
p = audit_page('?actor=nobody-at-all')
check('an actor with no rows: no entries', p and p['entries'] == [], p)
p1 = audit_page('?limit=2&target=' + wfp['id'])
check('limit=2: two rows and a cursor', p1 and len(p1['entries']) == 2 and
      p1['next_before'] == p1['entries'][-1]['id'], p1)
p2 = p1 and audit_page('?limit=2&target=%s&before=%d' % (
    wfp['id'], p1['next_before']))
check('before=next_before: the two older rows',
      p2 and [e['id'] for e in p2['entries']] ==
      [e['id'] for e in audit_page('?target=' + wfp['id'])['entries'][2:]],
      p2)
p = audit_page('')
check('default limit is 50', p and len(p['entries']) == 50, p and
      len(p['entries']))
p = audit_page('?limit=500')
check('limit=500 is allowed', p is not None)
for q, field in (('?limit=0', 'limit'), ('?limit=501', 'limit'),
                 ('?before=x', 'before'), ('?before=0', 'before'),
                 ('?bogus=1', 'bogus'), ('?action=' + 'a' * 65, 'action')):
    r = call('GET', '/api/audit' + q)
    check('GET /api/audit%s: 400 naming %s' % (q[:20], field),
          r[0] == 400 and isinstance(r[2], dict) and
          r[2].get('field') == field, r)
for path in ('/api/audit', '/api/audit/verify'):
    r = call('GET', path, user='employee')
    check_status('GET %s as an employee' % path, r, 403)
    r = call('GET', path, user=None)
    check('GET %s without a user: 401' % path, r[0] == 401, r[0])

# --- versions ----------------------------------------------------------------
v1_steps = [wait_step(0)]
v2_steps = [wait_step(1), {'name': 'w2', 'type': 'wait', 'duration': 0}]
wv = new_workflow(v1_steps, prefix='aud-ver')
check('a new workflow is version 1', wv.get('version') == 1, wv)
exa = start_execution(wv['id'])
r = call('PUT', '/api/workflows/' + wv['id'],
         body=wf_body(wv['name'], v2_steps))
check('an update makes version 2', r[0] == 200 and r[2].get('version') == 2,
      r)
exb = start_execution(wv['id'])
require('two executions, one before and one after the edit', exa and exb)
check('the execution started before the edit shows version 1',
      exa.get('workflow_version') == 1, exa)
check('the execution started after it shows version 2',
      exb.get('workflow_version') == 2, exb)
ga = wait_for(lambda: settled(exa['id']), 15)
gb = wait_for(lambda: settled(exb['id']), 15)
check('GET /api/executions/:id shows workflow_version (1 and 2)',
      ga and gb and ga['workflow_version'] == 1 and
      gb['workflow_version'] == 2, (ga, gb))
r = call('GET', '/api/workflows/%s/versions' % wv['id'], user='employee')
check('versions list (any user): 2 then 1, who and when',
      r[0] == 200 and [x['version'] for x in r[2]] == [2, 1] and
      all(x['created_by'] == 'admin' and x['created_at'] for x in r[2]), r)
base = '/api/workflows/%s/versions' % wv['id']
r = call('GET', base + '?limit=1')
check('versions ?limit=1: the newest only',
      r[0] == 200 and [x['version'] for x in r[2]] == [2], r)
r = call('GET', base + '?limit=1&before=2')
check('versions ?before=2: the next page, version 1',
      r[0] == 200 and [x['version'] for x in r[2]] == [1], r)
for q, field in (('limit=0', 'limit'), ('limit=1001', 'limit'),
                 ('limit=x', 'limit'), ('before=1', 'before'),
                 ('before=-5', 'before')):
    r = call('GET', base + '?' + q)
    check('versions ?%s: 400 naming %s' % (q, field),
          r[0] == 400 and field in str(r[2]), r)
r1 = call('GET', '/api/workflows/%s/versions/1' % wv['id'])
r2 = call('GET', '/api/workflows/%s/versions/2' % wv['id'])
check('version 1 is the definition the first execution ran',
      r1[0] == 200 and r1[2]['definition'] == {'steps': v1_steps} and
      ga and [s['name'] for s in ga.get('steps', [])] == ['w'], (r1, ga))
check('version 2 is the new definition',
      r2[0] == 200 and r2[2]['definition'] == {'steps': v2_steps}, r2)
for bad in ('0', '3', 'x', '01', '99999999999'):
    r = call('GET', '/api/workflows/%s/versions/%s' % (wv['id'], bad))
    check('version %s: 404' % bad, r[0] == 404, r)
r = call('GET', '/api/workflows/%s/versions' % uuid.uuid4())
check('versions of a missing workflow: 404', r[0] == 404, r)
wd = new_workflow(prefix='aud-gone')
call('DELETE', '/api/workflows/' + wd['id'])
r = call('GET', '/api/workflows/%s/versions/1' % wd['id'])
check('the versions of a deleted workflow are kept (audit trail)',
      r[0] == 200 and r[2]['name'] == wd['name'], r)
r = call('POST', '/api/workers/%s/command' % find_worker('local-1')['id'],
         body={'command': 'true'})
check('a direct command has no workflow_version',
      r[0] == 201 and r[2].get('workflow_version') is None, r)

check('the chain holds at the end', verify().get('ok') is True, verify())
done()
