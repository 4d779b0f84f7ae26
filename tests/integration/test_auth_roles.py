#!/usr/bin/env python3
"""Every endpoint x {admin, employee, outsider, no credentials} (SPEC
sections 2-4), through nginx and the dev SSO stand-in:
  no credentials -> 401 (except /health);
  outsider (signed in, in neither group) -> 403 (except /health);
  employee -> 403 on admin routes, allowed elsewhere; admin -> allowed.
Each role gets its own fresh objects, so what one call changes (a delete,
an answer) cannot decide another's status."""

import uuid

from pulse_test import (at_end, call, check, check_status, create_workflow,
                        done, error_of, find_worker, heartbeat, is_json_error,
                        make_token, prompt_step, require, start_execution,
                        unique, WORKER_API_KEY)

require('PULSE_WORKER_API_KEY is set', WORKER_API_KEY != '')


def fresh_workflow():
    wf = create_workflow('authz', [prompt_step('Ask')])
    require('fixture: admin creates a workflow', wf is not None)
    return wf['id']


def fresh_execution(wid):
    ex = start_execution(wid)
    require('fixture: admin starts an execution', ex is not None)
    return ex['id']


def fresh_worker():
    name = unique('authz-worker')
    r = heartbeat(name, metadata={'hostname': name})
    require('fixture: a worker sends a heartbeat', r[0] == 200, r)
    w = find_worker(name)
    require('fixture: the worker is listed', w is not None)
    at_end(lambda: call('DELETE', '/api/workers/' + w['id']))
    return w['id']


ADMIN, ANY = 'admin', 'any'
WF_BODY = {'definition': {'steps': [prompt_step('Ask again')]}}


def endpoints():
    """(method, path, body, who may, status when allowed) with fresh ids.
    `None` as allowed status: anything but 401/403/5xx (the command route
    may say the worker is not connected)."""
    wid = fresh_workflow()
    wid_del = fresh_workflow()
    eid_resp = fresh_execution(wid)
    eid_cancel = fresh_execution(wid)
    eid_get = fresh_execution(wid)
    worker = fresh_worker()
    worker_del = fresh_worker()
    rows = [
        ('GET', '/api/user', None, ANY, (200,)),
        ('GET', '/api/workers', None, ANY, (200,)),
        ('POST', '/api/workers/:id/command',
         {'command': 'true', 'timeout': 1000}, ADMIN, None),
        ('DELETE', '/api/workers/:del', None, ADMIN, (200, 204)),
        ('POST', '/api/workers/:id/accept', {}, ADMIN, (200,)),
        ('PUT', '/api/workers/:id/groups', {'groups': ['authz']}, ADMIN,
         (200,)),
        # A keyless (version-1) worker has no key to rotate: 409.
        ('POST', '/api/workers/:id/rotate', {}, ADMIN, None),
        ('POST', '/api/workers/:id/revoke', {}, ADMIN, (200,)),
        ('GET', '/api/enrollment-tokens', None, ADMIN, (200,)),
        ('POST', '/api/enrollment-tokens', {'groups': ['authz']}, ADMIN,
         (201,)),
        ('DELETE', '/api/enrollment-tokens/:id', None, ADMIN, (200,)),
        ('GET', '/api/workflows', None, ANY, (200,)),
        ('GET', '/api/workflows/:id', None, ANY, (200,)),
        ('POST', '/api/workflows',
         dict(WF_BODY, name=unique('authz-new')), ADMIN, (201,)),
        ('PUT', '/api/workflows/:id',
         dict(WF_BODY, name=unique('authz-put')), ADMIN, (200,)),
        ('DELETE', '/api/workflows/:del', None, ADMIN, (200, 204)),
        ('GET', '/api/executions', None, ANY, (200,)),
        ('POST', '/api/executions', {'workflow_id': wid}, ANY, (201,)),
        ('GET', '/api/executions/:id', None, ANY, (200,)),
        ('GET', '/api/executions/:id/output', None, ANY, (200,)),
        ('POST', '/api/executions/:id/respond', {'response': 'Yes'}, ANY,
         (200,)),
        ('POST', '/api/executions/:id/cancel', {}, ANY, (200,)),
        # Any role reaches the approval's own checks: this execution needs
        # no approval, so its approval is closed (409).
        ('POST', '/api/executions/:id/approve',
         {'plan_hash': '0' * 64, 'decision': 'approve'}, ANY, (409,)),
    ]
    token = make_token(['authz'])[2]['id']
    ids = {'workers': (worker, worker_del), 'workflows': (wid, wid_del),
           'enrollment-tokens': (token, token)}
    out = []
    for method, pattern, body, who, ok in rows:
        noun = pattern.split('/')[2]
        if noun == 'executions':
            eid = eid_resp if pattern.endswith('/respond') else \
                eid_cancel if pattern.endswith('/cancel') else eid_get
            path = pattern.replace(':id', eid)
        else:
            one, other = ids.get(noun, ('', ''))
            path = pattern.replace(':id', one).replace(':del', other)
        out.append((method, pattern.replace(':del', ':id'), path, body, who,
                    ok))
    return out


def expected(role, who):
    if role is None:
        return (401,)
    if role == 'outsider':
        return (403,)
    if who == ADMIN and role != 'admin':
        return (403,)
    return 'allowed'


for role in ('admin', 'employee', 'outsider', None):
    label = role or 'no credentials'
    for method, pattern, path, body, who, ok in endpoints():
        want = expected(role, who)
        r = call(method, path, user=role, body=body)
        status = r[0]
        descr = '%s %s as %s' % (method, pattern, label)
        if want != 'allowed':
            check_status(descr, r, *want)
            check(descr + ': JSON error or nginx 401',
                  is_json_error(r) or status == 401, r[2])
        elif ok is None:
            check('%s -> allowed' % descr,
                  status not in (401, 403) and status < 500,
                  'got %s: %s' % (status, r[2]))
        else:
            check_status(descr, r, *ok)
        if method == 'POST' and pattern == '/api/workflows' and \
                isinstance(r[2], dict) and r[2].get('id'):
            at_end(lambda i=r[2]['id']:
                   call('DELETE', '/api/workflows/' + i))

# /health is public for everyone.
for role in ('admin', 'employee', 'outsider', None):
    check_status('GET /health as %s' % (role or 'no credentials'),
                 call('GET', '/health', user=role), 200)

# The heartbeat route ignores SSO: without X-API-Key it is 401 for all.
for role in ('admin', 'employee', 'outsider', None):
    r = call('POST', '/api/workers/heartbeat', user=role,
             body={'worker_id': str(uuid.uuid4()),
                   'name': unique('authz-nokey'), 'metadata': {}})
    check_status('heartbeat without key as %s' % (role or 'no credentials'),
                 r, 401)

# Enrollment ignores SSO too: no token and no X-API-Key is 401 for all.
for role in ('admin', 'employee', 'outsider', None):
    r = call('POST', '/api/workers/enroll', user=role,
             body={'name': unique('authz-enroll')})
    check_status('enroll without token or key as %s'
                 % (role or 'no credentials'), r, 401)

# Wrong password is not signed in.
r = call('GET', '/api/user', user=('admin', 'not-the-password'))
check_status('GET /api/user with a wrong password', r, 401)
r = call('GET', '/api/user', user=('nobody-here', 'x'))
check_status('GET /api/user as an unknown user', r, 401)

# The SSO prompts: the dev stand-in asks for basic credentials (in
# production nginx redirects to the Authelia portal instead).
r = call('GET', '/api/user', user=None)
check('401 carries WWW-Authenticate: Basic (dev stand-in)',
      'basic' in (r[1].get('WWW-Authenticate') or '').lower(),
      r[1].get('WWW-Authenticate'))

# The dashboard and the browser websocket are behind SSO too.
check_status('GET / without credentials', call('GET', '/', user=None), 401)
for role in ('admin', 'employee'):
    r = call('GET', '/', user=role)
    check_status('GET / as %s' % role, r, 200)
    check('GET / as %s is the HTML page' % role,
          'text/html' in r[1].get('Content-Type', '') and
          '<html' in str(r[2]).lower(), r[1].get('Content-Type'))
check_status('GET /ws without credentials',
             call('GET', '/ws', user=None,
                  headers={'Upgrade': 'websocket', 'Connection': 'Upgrade',
                           'Sec-WebSocket-Version': '13',
                           'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
                           'Sec-WebSocket-Protocol': 'pulse-browser'}),
             401)

# GET /api/user: who the SSO says, and the role PULSE gives.
USERS = {
    'admin': ('Admin User', 'admin@pulse.local', 'admin', 'admin'),
    'employee': ('Employee User', 'employee@pulse.local', 'employee',
                 'employee'),
}
for user, (name, email, group, role) in USERS.items():
    r = call('GET', '/api/user', user=user)
    d = r[2] if isinstance(r[2], dict) else {}
    check('%s: /api/user username' % user, d.get('username') == user, d)
    check('%s: /api/user name' % user, d.get('name') == name, d)
    check('%s: /api/user email' % user, d.get('email') == email, d)
    groups = d.get('groups')
    check('%s: /api/user groups is [%r]' % (user, group),
          groups == [group], d)
    check('%s: /api/user role is %r' % (user, role), d.get('role') == role,
          d)
r = call('GET', '/api/user', user='outsider')
check('outsider: /api/user 403 says why',
      r[0] == 403 and error_of(r[2]) != '', r)

done()
