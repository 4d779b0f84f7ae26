#!/usr/bin/env python3
"""Roles, exhaustively: every route of fcgi-api/router.c's table x every
method (the table's and others: HEAD, OPTIONS, PATCH, TRACE, PROPFIND, an
invented one) x {no credentials, outsider, employee, admin} -> the status
written in EXPECT below, through nginx and the dev SSO stand-in.

Deny by default: a method a path does not have is 405 for a signed-in
user (401 before that for nobody), an unknown path 404; never 2xx. The
route list is read from router.c: a route added there without a row in
EXPECT fails this file. No response carries a CORS header.
"""

import hashlib
import hmac
import json
import uuid

import seclib
from pulse_test import (at_end, call, check, create_workflow, diag, done,
                        enroll_accepted, heartbeat, make_token, prompt_step,
                        require, start_execution, unique)

ROLES = (None, 'outsider', 'employee', 'admin')
METHODS = ('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS',
           'TRACE', 'PROPFIND', 'PULSEFOO')

DENY = {None: (401,), 'outsider': (403,), 'employee': (403,),
        'admin': None}
OK = object()   # the route's own success statuses, given per row

# (method, pattern) -> (success statuses, who succeeds: 'public' | 'any'
# (admin, employee) | 'admin' | 'worker' (X-API-Key, no SSO)).
EXPECT = {
    ('GET', '/health'): ((200,), 'public'),
    ('GET', '/metrics/api'): ((200,), 'public'),   # 127.0.0.1 allowed
    ('GET', '/api/user'): ((200,), 'any'),
    ('GET', '/api/openapi.json'): ((200,), 'any'),
    ('GET', '/api/workers'): ((200,), 'any'),
    ('POST', '/api/workers/heartbeat'): ((200,), 'worker'),
    # No SSO: a token in the body or X-API-Key; SSO alone is neither.
    ('POST', '/api/workers/enroll'): ((201,), 'enroll'),
    ('POST', '/api/workers/:id/accept'): ((200,), 'admin'),
    ('POST', '/api/workers/:id/revoke'): ((200,), 'admin'),
    ('POST', '/api/workers/:id/rotate'): ((200,), 'admin'),
    ('PUT', '/api/workers/:id/groups'): ((200,), 'admin'),
    ('GET', '/api/enrollment-tokens'): ((200,), 'admin'),
    ('POST', '/api/enrollment-tokens'): ((201,), 'admin'),
    ('DELETE', '/api/enrollment-tokens/:id'): ((200,), 'admin'),
    ('DELETE', '/api/workers/:id'): ((200, 204), 'admin'),
    ('POST', '/api/workers/:id/command'): ((201,), 'admin'),
    ('GET', '/api/workflows'): ((200,), 'any'),
    ('POST', '/api/workflows'): ((201,), 'admin'),
    ('GET', '/api/workflows/:id'): ((200,), 'any'),
    ('PUT', '/api/workflows/:id'): ((200,), 'admin'),
    ('DELETE', '/api/workflows/:id'): ((200, 204), 'admin'),
    ('GET', '/api/executions'): ((200,), 'any'),
    ('POST', '/api/executions'): ((201,), 'any'),
    ('GET', '/api/executions/:id'): ((200,), 'any'),
    ('GET', '/api/executions/:id/output'): ((200,), 'any'),
    ('GET', '/api/executions/:a/diff/:b'): ((200,), 'any'),
    ('POST', '/api/executions/:id/respond'): ((200,), 'any'),
    ('POST', '/api/executions/:id/cancel'): ((200,), 'any'),
    # Any role reaches the approval's own checks; the fixture's execution
    # needs no approval, so its approval is closed (409).
    ('POST', '/api/executions/:id/approve'): ((409,), 'any'),
    ('GET', '/api/workflows/:id/versions'): ((200,), 'any'),
    ('GET', '/api/workflows/:id/versions/:n'): ((200,), 'any'),
    ('GET', '/api/triggers'): ((200,), 'admin'),
    ('POST', '/api/triggers'): ((201,), 'admin'),
    ('GET', '/api/triggers/:id'): ((200,), 'admin'),
    ('PUT', '/api/triggers/:id'): ((200,), 'admin'),
    ('DELETE', '/api/triggers/:id'): ((200,), 'admin'),
    ('POST', '/api/triggers/:id/rotate'): ((200,), 'admin'),
    ('GET', '/api/triggers/:id/deliveries'): ((200,), 'admin'),
    # No SSO and no identity: the body's signature is the credential, so
    # with it everyone (nobody included) gets 202 and SSO adds nothing;
    # without it everyone gets 401 (tests/security/test_hook_identity.py).
    ('POST', '/hooks/:id'): ((202,), 'hook'),
    ('GET', '/api/audit'): ((200,), 'admin'),
    ('GET', '/api/audit/verify'): ((200,), 'admin'),
    ('GET', '/api/channels'): ((200,), 'admin'),
    ('POST', '/api/channels'): ((201,), 'admin'),
    ('DELETE', '/api/channels/:id'): ((200,), 'admin'),
    ('POST', '/api/channels/:id/test'): ((202,), 'admin'),
    ('GET', '/api/notifications'): ((200,), 'admin'),
    ('POST', '/api/notifications/:id/retry'): ((202,), 'admin'),
    ('GET', '/api/schedules'): ((200,), 'any'),
    ('POST', '/api/schedules'): ((201,), 'admin'),
    ('POST', '/api/schedules/preview'): ((200,), 'admin'),
    ('GET', '/api/schedules/:id'): ((200,), 'any'),
    ('PUT', '/api/schedules/:id'): ((200,), 'admin'),
    ('DELETE', '/api/schedules/:id'): ((200,), 'admin'),
    ('GET', '/api/schedules/:id/preview'): ((200,), 'any'),
}


def expected(role, who, ok):
    """Statuses allowed for role on a route whose successes are ok."""
    if who in ('public', 'hook'):
        return ok
    if who in ('worker', 'enroll'):
        return (401,)   # SSO credentials are no API key
    if role is None:
        return (401,)
    if role == 'outsider':
        return (403,)
    if who == 'admin' and role != 'admin':
        return (403,)
    return ok


# --- the table covers router.c exactly ------------------------------------
table = seclib.routes()
require('router.c route table parsed (%d routes)' % len(table),
        len(table) >= 10, table)
in_router = {(m, p) for m, p, _ in table}
for key in sorted(in_router - set(EXPECT)):
    check('route %s %s has a row in the security table' % key, False,
          'add it to EXPECT in tests/security/test_roles.py')
for key in sorted(set(EXPECT) - in_router):
    check('row %s %s is a route of router.c' % key, False,
          'the route is gone: remove its row')
check('the security table and router.c list the same %d routes'
      % len(in_router), in_router == set(EXPECT))
for m, p, flags in table:
    who = EXPECT.get((m, p), (None, None))[1]
    want = {'public': 'ROUTE_PUBLIC', 'worker': 'ROUTE_WORKER',
            'enroll': 'ROUTE_PUBLIC', 'admin': 'ROUTE_ADMIN',
            'any': 'ROUTE_ANY', 'hook': 'ROUTE_HOOK'}.get(who)
    check('%s %s: router.c flags %s agree with the table (%s)'
          % (m, p, '|'.join(sorted(flags)), who), want in flags)

# --- fixtures -------------------------------------------------------------
wf_keep = create_workflow('roles', [prompt_step('Ask')])
require('fixture: a workflow', wf_keep is not None)
WID = wf_keep['id']
local1 = seclib.worker_id_of('local-1')
require('fixture: local-1 is registered', local1 is not None)
cmd_execs = []


def fresh_worker():
    name = unique('roles-worker')
    r = heartbeat(name, metadata={'hostname': name})
    require('fixture: heartbeat of %s' % name, r[0] == 200, r)
    wid = seclib.worker_id_of(name)
    at_end(lambda: call('DELETE', '/api/workers/%s' % wid))
    return wid


def fresh_enrolled():
    wid, _ = enroll_accepted(unique('roles-enrolled'))
    return wid


def fresh_workflow():
    w = create_workflow('roles-del', [prompt_step('Ask')])
    require('fixture: a workflow to delete', w is not None)
    return w['id']


def fresh_execution():
    e = start_execution(WID)
    require('fixture: an execution waiting at its prompt', e is not None)
    return e['id']


DIFF_EID = fresh_execution()


def fresh_channel():
    r = call('POST', '/api/channels', body={
        'name': unique('roles-ch'), 'type': 'webhook',
        'url': 'http://127.0.0.1:9/hook'})
    require('fixture: a channel', r[0] == 201, r)
    at_end(lambda: call('DELETE', '/api/channels/' + r[2]['id']))
    return r[2]['id']


def fresh_dead_notification():
    """A dead delivery (to a channel of its own) for a retry to revive."""
    cid = fresh_channel()
    seclib.ctl('sql', "INSERT INTO notifications (channel_id, event, "
               "payload, status, delivery_id) VALUES ('%s', 'test', '{}', "
               "'dead', UUID())" % cid)
    return seclib.ctl('sql', "SELECT MAX(id) FROM notifications WHERE "
                      "channel_id = '%s'" % cid).strip()
def fresh_trigger():
    r = call('POST', '/api/triggers', body={'name': unique('roles-trg'),
                                            'workflow_id': WID})
    require('fixture: a trigger', r[0] == 201, r)
    t = r[2]
    at_end(lambda: call('DELETE', '/api/triggers/' + t['id']))
    return t


TRIGGER = fresh_trigger()


def fresh_schedule():
    """A disabled schedule of WID (it never fires during the test)."""
    r = call('POST', '/api/schedules', body={
        'workflow_id': WID, 'name': unique('roles-sch'), 'cron': '0 3 * * *',
        'timezone': 'UTC', 'enabled': False})
    require('fixture: a schedule', r[0] == 201, r)
    sid = r[2]['id']
    at_end(lambda: call('DELETE', '/api/schedules/' + sid))
    return sid


SCHEDULE = fresh_schedule()


def request_for(method, pattern, role):
    """(path, body, headers) for one call; fresh objects wherever the call
    would change or use one up, so earlier calls decide nothing."""
    body, headers = None, None
    wid, eid, wkid = WID, str(uuid.uuid4()), local1
    allowed = expected(role, EXPECT[(method, pattern)][1], OK) is OK
    if pattern == '/api/workers/:id':
        wkid = fresh_worker() if allowed else local1
    if pattern.startswith('/api/workers/:id/') and \
            not pattern.endswith('/command'):
        # Accept, revoke, rotate, groups: an enrolled worker of its own,
        # never the stack's local-1.
        wkid = fresh_enrolled() if allowed else str(uuid.uuid4())
    tid = str(uuid.uuid4())
    trid = TRIGGER['id']
    if pattern == '/api/triggers/:id' and method == 'DELETE' or \
            pattern == '/api/triggers/:id/rotate':
        trid = fresh_trigger()['id'] if allowed else TRIGGER['id']
    if pattern == '/hooks/:id':
        # Signed: whoever sends it, the signature alone decides.
        headers = {'X-Pulse-Signature': 'sha256=' + hmac.new(
            TRIGGER['secret'].encode(), json.dumps({}).encode(),
            hashlib.sha256).hexdigest()}
    if pattern == '/api/enrollment-tokens/:id' and allowed:
        tid = make_token([])[2]['id']
    if pattern == '/api/workflows/:id' and method == 'DELETE':
        wid = fresh_workflow() if allowed else WID
    if pattern.startswith('/api/executions/:id'):
        eid = fresh_execution()
    sid = SCHEDULE
    if pattern == '/api/schedules/:id' and method == 'DELETE' and allowed:
        sid = fresh_schedule()
    cid, nid = str(uuid.uuid4()), '999999999'
    if pattern.startswith('/api/channels/:id') and allowed:
        cid = fresh_channel()
    if pattern == '/api/notifications/:id/retry' and allowed:
        nid = fresh_dead_notification()
    noun = pattern.split('/')[2] if pattern.count('/') > 2 else \
        pattern.split('/')[1]
    path = pattern.replace(':id', {'workers': wkid, 'workflows': wid,
                                   'executions': eid, 'triggers': trid,
                                   'hooks': TRIGGER['id'],
                                   'enrollment-tokens': tid,
                                   'channels': cid,
                                   'notifications': nid,
                                   'schedules': sid}.get(noun, ''))
    path = path.replace(':n', '1')      # version 1: every workflow has it
    # The diff reads only: one execution compared with itself (a fresh
    # one for each call would run into the limit on starting executions).
    path = path.replace(':a', DIFF_EID).replace(':b', DIFF_EID)
    if method in ('POST', 'PUT', 'PATCH'):
        body = {
            '/api/workers/heartbeat': {'worker_id': str(uuid.uuid4()),
                                       'name': unique('roles-hb'),
                                       'metadata': {}},
            '/api/workers/:id/command': {'command': 'true',
                                         'timeout': 5000},
            '/api/workers/enroll': {'name': unique('roles-enroll')},
            '/api/workers/:id/groups': {'groups': ['roles']},
            '/api/workflows': {'name': unique('roles-new'),
                               'definition': {'steps': [
                                   prompt_step('Ask')]}},
            '/api/workflows/:id': {'name': unique('roles-put'),
                                   'definition': {'steps': [
                                       prompt_step('Ask')]}},
            '/api/executions': {'workflow_id': WID},
            '/api/executions/:id/respond': {'response': 'Yes'},
            '/api/executions/:id/approve': {'plan_hash': '0' * 64,
                                            'decision': 'approve'},
            '/api/channels': {'name': unique('roles-ch'),
                              'type': 'webhook',
                              'url': 'http://127.0.0.1:9/hook'},
            '/api/triggers': {'name': unique('roles-trg-new'),
                              'workflow_id': WID},
            '/api/schedules': {'workflow_id': WID,
                               'name': unique('roles-sch-new'),
                               'cron': '0 3 * * *', 'enabled': False},
            '/api/schedules/preview': {'cron': '0 3 * * *', 'count': 3},
            '/api/schedules/:id': {'enabled': False},
        }.get(pattern, {})
    return path, body, headers


def remember(method, pattern, r):
    if r[0] == 201 and isinstance(r[2], dict) and r[2].get('id'):
        if pattern in ('/api/workflows', '/api/triggers', '/api/schedules'):
            i, what = r[2]['id'], pattern
            at_end(lambda: call('DELETE', '%s/%s' % (what, i)))
        elif pattern == '/api/workers/:id/command':
            cmd_execs.append(r[2]['id'])
        elif pattern == '/api/channels':
            i = r[2]['id']
            at_end(lambda: call('DELETE', '/api/channels/' + i))


def cors(r):
    return [k for k in r[1].keys() if k.lower().startswith('access-control')]


cors_seen = []
n_calls = 0
patterns = sorted({p for _, p in EXPECT})
for role in ROLES:
    label = role or 'nobody'
    for pattern in patterns:
        methods_of = {m for m, p in EXPECT if p == pattern}
        public = pattern in ('/health', '/metrics/api',
                             '/api/workers/heartbeat', '/api/workers/enroll',
                             '/hooks/:id')
        for method in METHODS:
            if method in methods_of:
                ok, who = EXPECT[(method, pattern)]
                want = expected(role, who, ok)
            elif method == 'TRACE':
                want = (405,)           # nginx refuses TRACE itself
            elif pattern in ('/api/workers/heartbeat',
                             '/api/workers/enroll') and method == 'DELETE':
                # DELETE /api/workers/:id with the id "heartbeat" (or
                # "enroll"), on the location nginx leaves without SSO: no
                # identity, 401.
                want = (401,)
            elif role is None and not public:
                want = (401,)           # nginx signs in first
            elif pattern == '/api/schedules/preview' and \
                    (method, '/api/schedules/:id') in EXPECT:
                # /api/schedules/:id with the id "preview": that route's
                # role check, then no such schedule.
                want = expected(role, EXPECT[(method,
                                              '/api/schedules/:id')][1],
                                (404,))
            else:
                want = (405,)           # the path exists, not this method
            path, body, headers = request_for(method, pattern, role) \
                if method in methods_of else \
                (pattern.replace(':id', str(uuid.uuid4())),
                 {} if method in ('POST', 'PUT', 'PATCH') else None, None)
            r = call(method, path, user=role, body=body, headers=headers)
            n_calls += 1
            remember(method, pattern, r)
            check('%s %s as %s -> %s' % (method, pattern, label,
                                         '/'.join(map(str, want))),
                  r[0] in want, 'got %s: %s' % (r[0], str(r[2])[:300]))
            if r[0] // 100 == 2 and method not in methods_of:
                check('%s %s as %s: never 2xx for a method not in the '
                      'table' % (method, pattern, label), False)
            if cors(r):
                cors_seen.append((method, pattern, label, cors(r)))

# The heartbeat with its key works (the 401s above are not a broken route).
hb_name = unique('roles-hb-key')
r = heartbeat(hb_name)
check('POST /api/workers/heartbeat with X-API-Key -> 200', r[0] == 200, r)
hb = seclib.worker_id_of(hb_name)
if hb:
    at_end(lambda: call('DELETE', '/api/workers/' + hb))

# Paths that are not routes: 404 for anyone signed in, 401 for nobody.
UNKNOWN = ['/api/nope', '/api/workers/%s/nope' % local1,
           '/api/workflows/%s/' % WID, '/api/executions/x/respond/y',
           '/api/user/', '/api/workflows/%2e%2e', '/api/workflows/..%2f',
           '/api/WORKFLOWS', '/api/health', '/api/executions/%s/delete'
           % uuid.uuid4()]
for role in ROLES:
    for path in UNKNOWN:
        for method in ('GET', 'POST', 'DELETE'):
            r = call(method, path, user=role,
                     body={} if method == 'POST' else None)
            n_calls += 1
            want = (401,) if role is None else (404, 400)
            check('%s %s (no such route) as %s -> %s' % (
                method, path, role or 'nobody', '/'.join(map(str, want))),
                r[0] in want, 'got %s: %s' % (r[0], str(r[2])[:200]))
            if cors(r):
                cors_seen.append((method, path, role, cors(r)))

check('no response carried an Access-Control-* header (%d calls)'
      % n_calls, not cors_seen, cors_seen[:10])


def drop_command_executions():
    for i in cmd_execs:
        seclib.ctl('sql', "DELETE FROM executions WHERE id = '%s'" % i)


at_end(drop_command_executions)
diag('%d requests' % n_calls)
done()
