#!/usr/bin/env python3
"""Identity comes from the SSO answer and nothing else (SPEC section 3,
DESIGN section 6):
  - every route of router.c, with its method and with one it lacks, and
    the websocket upgrades, carrying client-sent Remote-User, -Groups,
    -Name, -Email in several spellings (canonical, odd case, underscores,
    CGI names, repeated, look-alikes): the status is the one the real
    user gets, and what gets recorded (created_by, started_by,
    responded_by, the users table, the websocket's hello) names the real
    user;
  - an SSO answer with an empty Remote-User (the dev stand-in's
    'nameless' user, group admin) gets 401 everywhere, /ws included;
  - pulse-api's FastCGI socket and pushd's sockets refuse a local user
    outside the socket group (EACCES), and admit nginx's user.
"""

import os
import subprocess
import time
import uuid

import seclib
import wsclient
from pulse_test import (at_end, call, check, create_workflow, done,
                        have_ctl, is_json_error, origin, prompt_step,
                        require, sql, start_execution, unique,
                        WORKER_API_KEY)

MALLORY = 'mallory'
SPOOF_NAME = 'Mallory Spoofer'
SPOOF_EMAIL = 'mallory@evil.example'

VARIANTS = {
    'canonical': [
        ('Remote-User', MALLORY), ('Remote-Groups', 'admin'),
        ('Remote-Name', SPOOF_NAME), ('Remote-Email', SPOOF_EMAIL)],
    'odd case': [
        ('rEMOTE-uSER', MALLORY), ('REMOTE-GROUPS', 'admin'),
        ('remote-name', SPOOF_NAME), ('ReMoTe-EmAiL', SPOOF_EMAIL)],
    'underscores': [
        ('Remote_User', MALLORY), ('Remote_Groups', 'admin'),
        ('Remote_Name', SPOOF_NAME), ('Remote_Email', SPOOF_EMAIL)],
    'CGI names': [
        ('HTTP_REMOTE_USER', MALLORY), ('HTTP_REMOTE_GROUPS', 'admin'),
        ('REMOTE_USER', MALLORY), ('HTTP-REMOTE-USER', MALLORY),
        ('HTTP-Remote-Groups', 'admin')],
    'repeated': [
        ('Remote-User', MALLORY), ('Remote-User', MALLORY),
        ('Remote-Groups', 'admin'), ('Remote-Groups', 'admin,employee'),
        ('remote-groups', 'admin'), ('Remote-Name', SPOOF_NAME),
        ('Remote-Name', SPOOF_NAME), ('Remote-Email', SPOOF_EMAIL),
        ('Remote-Email', SPOOF_EMAIL)],
    'look-alikes': [
        ('X-Remote-User', MALLORY), ('X-Forwarded-User', MALLORY),
        ('X-Remote-Groups', 'admin'),
        ('X-Original-URL', '/health'), ('X-Original-Method', 'GET')],
}

require('PULSE_CTL is set (users table, sockets)', have_ctl())
require('PULSE_WORKER_API_KEY is set', WORKER_API_KEY != '')

# --- fixtures -------------------------------------------------------------
wf = create_workflow('ident', [prompt_step('Ask')])
require('fixture: a workflow', wf is not None)
WID = wf['id']
local1 = seclib.worker_id_of('local-1')
require('fixture: local-1 registered', local1 is not None)


def fresh_execution():
    e = start_execution(WID)
    require('fixture: an execution at its prompt', e is not None)
    return e['id']


DIFF_EID = fresh_execution()

# An execution awaiting the approval of `leads`, started by the admin: the
# employee (not in leads) is refused with 403 whatever headers it sends;
# the refusal records nothing, so one execution serves every variant.
awf = create_workflow('ident-appr', [prompt_step('Ask')])
require('fixture: a workflow for approvals', awf is not None)
r = call('PUT', '/api/workflows/' + awf['id'], body={
    'name': awf['name'], 'definition': {
        'approval': {'approvers': ['leads']}, 'steps': [prompt_step('Ask')]}})
require('fixture: it needs the approval of leads', r[0] == 200, r)
APPROVE = start_execution(awf['id'])
require('fixture: an execution awaiting approval', APPROVE is not None and
        APPROVE.get('status') == 'awaiting_approval', APPROVE)
at_end(lambda: call('POST', '/api/executions/%s/cancel' % APPROVE['id'],
                   body={}))

# A schedule to read (disabled: it never fires during the test).
r = call('POST', '/api/schedules', body={
    'workflow_id': WID, 'name': unique('ident-sch'), 'cron': '0 3 * * *',
    'timezone': 'UTC', 'enabled': False})
require('fixture: a schedule', r[0] == 201, r)
SCHEDULE = r[2]['id']
at_end(lambda: call('DELETE', '/api/schedules/' + SCHEDULE))

table = seclib.routes()
require('router.c route table parsed', len(table) >= 10)
# What router.c says is for admins only.
ADMIN_ONLY = {(m, p) for m, p, flags in table if 'ROUTE_ADMIN' in flags}
PUBLIC = {'/health', '/metrics/api'}
# No SSO: the worker's key, or an enrollment token (SPEC section 12).
WORKER_ROUTES = {'/api/workers/heartbeat', '/api/workers/enroll'}
# No SSO and no identity: the signature decides (test_hook_identity.py
# sends signed hooks with these headers); here the id is no trigger.
HOOKS = {p for _, p, flags in table if 'ROUTE_HOOK' in flags}


def want(role, method, pattern):
    """Status the REAL user gets; the spoofed headers must not change it."""
    if pattern in PUBLIC:
        return 200
    if pattern in HOOKS:
        return 404
    if pattern in WORKER_ROUTES:
        return 401
    if role is None:
        return 401
    if role == 'outsider':
        return 403
    if (method, pattern) in ADMIN_ONLY:
        return 403
    if pattern == '/api/executions/:id/approve':
        return 403  # the employee is in no approver group
    return None     # allowed: checked by what gets recorded


def body_for(pattern):
    return {
        '/api/workers/heartbeat': {'worker_id': str(uuid.uuid4()),
                                   'name': unique('ident-hb'),
                                   'metadata': {}},
        '/api/workers/:id/command': {'command': 'true'},
        '/api/workflows': {'name': unique('ident-new'),
                           'definition': {'steps': [prompt_step('Ask')]}},
        '/api/workflows/:id': {'name': unique('ident-put'),
                               'definition': {'steps': [
                                   prompt_step('Ask')]}},
        '/api/executions': {'workflow_id': WID},
        '/api/executions/:id/respond': {'response': 'Yes'},
        '/api/executions/:id/approve': {'plan_hash': APPROVE['plan_hash'],
                                        'decision': 'approve'},
    }.get(pattern, {})


# Every route, its own method and one it lacks, for each role and variant.
# Employees' allowed writes use fresh executions; what they record is
# checked below.
recorded = []
for label, hdrs in VARIANTS.items():
    for role in (None, 'outsider', 'employee'):
        for method, pattern, _ in table:
            w = want(role, method, pattern)
            for m in (method, 'PATCH'):
                ident = pattern.replace(':id', {
                    'workers': local1, 'workflows': WID,
                    'schedules': SCHEDULE}.get(
                    pattern.split('/')[2] if pattern.count('/') > 2
                    else '', 'X')).replace(':n', '1')
                if pattern.startswith('/api/executions/:id'):
                    ident = pattern.replace(':id', fresh_execution()
                                            if w is None and m == method
                                            else str(uuid.uuid4()))
                if pattern.endswith('/approve') and m == method:
                    ident = pattern.replace(':id', APPROVE['id'])
                if pattern.startswith('/api/executions/:a/'):
                    # The diff reads only: one execution, compared with
                    # itself (a fresh one each time would run into the
                    # limit on starting executions).
                    e = DIFF_EID if w is None and m == method \
                        else str(uuid.uuid4())
                    ident = pattern.replace(':a', e).replace(':b', e)
                body = body_for(pattern) if m in ('POST', 'PUT',
                                                  'PATCH') else None
                r = call(m, ident, user=role, body=body, headers=hdrs)
                descr = '%s: %s %s as %s' % (label, m, pattern,
                                             role or 'nobody')
                if m != method:
                    exp = (401,) if role is None and pattern not in PUBLIC \
                        and pattern not in WORKER_ROUTES and \
                        pattern not in HOOKS else (405,)
                    check(descr + ' -> %s' % exp[0], r[0] in exp,
                          'got %s %s' % (r[0], r[2]))
                elif w is not None:
                    check(descr + ' -> %d' % w, r[0] == w,
                          'got %s %s' % (r[0], r[2]))
                else:
                    check(descr + ' -> allowed (2xx)', r[0] // 100 == 2,
                          'got %s %s' % (r[0], r[2]))
                    recorded.append((label, m, pattern, ident, r))

# What the employee's allowed calls recorded names the employee.
for label, m, pattern, path, r in recorded:
    d = r[2] if isinstance(r[2], dict) else {}
    if pattern == '/api/user':
        check('%s: GET /api/user is the employee, from the SSO' % label,
              d.get('username') == 'employee' and
              d.get('groups') == ['employee'] and
              d.get('role') == 'employee' and
              d.get('name') == 'Employee User' and
              d.get('email') == 'employee@pulse.local', d)
    elif pattern == '/api/executions' and m == 'POST':
        check('%s: the execution was started_by employee' % label,
              d.get('started_by') == 'employee', d)
    elif pattern.endswith('/respond'):
        eid = path.split('/')[3]
        e = call('GET', '/api/executions/' + eid)[2]
        step = (e.get('steps') or [{}])[0] if isinstance(e, dict) else {}
        check('%s: the answer was responded_by employee' % label,
              step.get('responded_by') == 'employee', step)

# A header name nginx cannot parse is refused before anything runs.
r = call('GET', '/api/user', user='employee',
         headers=[('Remote-User ', MALLORY)])
check('"Remote-User " (space before the colon) is refused: 400',
      r[0] == 400, r[0])

# An admin's write with spoofed headers is recorded as the admin.
for label, hdrs in VARIANTS.items():
    r = call('POST', '/api/workflows', headers=hdrs,
             body={'name': unique('ident-admin'),
                   'definition': {'steps': [prompt_step('Ask')]}})
    d = r[2] if isinstance(r[2], dict) else {}
    check('%s: admin creates a workflow: created_by admin' % label,
          r[0] == 201 and d.get('created_by') == 'admin', r[2])
    if d.get('id'):
        at_end(lambda i=d['id']: call('DELETE', '/api/workflows/' + i))

# --- websockets -------------------------------------------------------------


def ws_outcome(path, sub, user, hdrs, key=None):
    """('hello', msg) | ('refused', status) | ('closed', code)."""
    h = {'Origin': origin()}
    if key is not None:
        h['X-API-Key'] = key
    try:
        ws = wsclient.connect(path, sub, auth=user, headers=dict(
            list(h.items()) + [(k, v) for k, v in hdrs]))
    except wsclient.HandshakeRefused as e:
        return 'refused', e.status
    except (OSError, wsclient.WSError) as e:
        return 'error', str(e)
    try:
        msg = ws.recv_json(10)
        return 'hello', msg
    except wsclient.Closed as e:
        return 'closed', e.code
    finally:
        ws.close()


for label, hdrs in VARIANTS.items():
    # The dict drops repeats: send them as distinct names where needed.
    hdrs = [(k, v) for k, v in dict(hdrs).items()]
    got = ws_outcome('/ws', 'pulse-browser', ('employee', 'employee'), hdrs)
    check('%s: /ws as employee says hello to employee' % label,
          got[0] == 'hello' and 'employee' in str(got[1].get('user')) and
          MALLORY not in str(got[1]), got)
    got = ws_outcome('/ws', 'pulse-browser', None, hdrs)
    check('%s: /ws without credentials stays 401' % label,
          got == ('refused', 401), got)
    got = ws_outcome('/ws', 'pulse-browser', ('outsider', 'outsider'), hdrs)
    check('%s: /ws as outsider stays refused' % label,
          got[0] in ('refused', 'closed') and got[1] in (401, 403, 1008),
          got)
    got = ws_outcome('/worker', 'pulse-worker', ('admin', 'admin'), hdrs)
    check('%s: /worker with SSO credentials but no key stays 401' % label,
          got == ('refused', 401), got)

# --- the users table holds no spoofed identity ---------------------------
rows = sql("SELECT username FROM users WHERE username = '%s' OR "
           "display_name = '%s' OR email = '%s'" % (MALLORY, SPOOF_NAME,
                                                    SPOOF_EMAIL))
check('no users row carries a spoofed name or email', rows == [], rows)
rows = sql("SELECT display_name, email, `groups` FROM users "
           "WHERE username = 'employee'")
check('the employee row keeps the SSO values',
      rows == [['Employee User', 'employee@pulse.local', '["employee"]']],
      rows)

# --- an SSO answer without a user: 401 ------------------------------------
NAMELESS = ('nameless', 'nameless')
n401 = []
for method, pattern, flags in table:
    if pattern in PUBLIC or 'ROUTE_WORKER' in flags or \
            'ROUTE_HOOK' in flags:
        continue
    path = pattern.replace(':id', str(uuid.uuid4()))
    r = call(method, path, user=NAMELESS,
             body=body_for(pattern) if method in ('POST', 'PUT') else None)
    check('empty Remote-User from the SSO: %s %s -> 401' % (method, pattern),
          r[0] == 401 and is_json_error(r), 'got %s %s' % (r[0], r[2]))
got = ws_outcome('/ws', 'pulse-browser', NAMELESS, [])
check('empty Remote-User from the SSO: /ws refused with 401',
      got == ('refused', 401), got)
got = ws_outcome('/ws', 'pulse-browser', NAMELESS,
                 [('Remote-User', 'admin')])
check('empty Remote-User from the SSO plus a client Remote-User: /ws 401',
      got == ('refused', 401), got)
r = call('GET', '/api/user', user=NAMELESS,
         headers={'Remote-User': 'admin', 'Remote_User': 'admin'})
check('empty Remote-User from the SSO plus a client Remote-User: 401',
      r[0] == 401, r)
check('the nameless answer left no users row',
      sql("SELECT username FROM users WHERE username = '' OR "
          "email = 'nameless@pulse.local'") == [])

# --- local users outside the socket group ---------------------------------
stack = seclib.STACK
require('PULSE_STACK is set', stack != '')
require('running as root (to connect as other local users with setpriv)',
        os.geteuid() == 0)
pushd_before = seclib.pid_of('pushd-pid')
socks = ['api.sock', 'pushd-browser.sock', 'pushd-worker.sock',
         'pushd-metrics.sock']
for s in socks:
    path = os.path.join(stack, 'run', s)
    st = os.stat(path)
    check('%s is not world-accessible (mode %o)' % (s, st.st_mode & 0o777),
          st.st_mode & 0o007 == 0)
    got = seclib.connect_as('daemon', path)
    check('%s refuses local user daemon: EACCES' % s, got == 'EACCES', got)
    # The positive control, so EACCES above means something: nginx's
    # user gets in. Its connection closes without a word, which must not
    # hurt the daemon behind (pushd's metrics listener used to crash).
    got = seclib.connect_as('nobody', path)
    check('%s admits nginx\'s user (nobody, group nogroup)' % s,
          got == 'ok', got)

# The dev/test MariaDB: its root account is the OS root only (unix_socket
# authentication); another local user gets nowhere as root, over the
# socket or over TCP, even though the socket file itself is open to all.
envf = os.path.join(stack, 'pulse.env')
dbport = [l.split('=', 1)[1].strip() for l in open(envf)
          if l.startswith('DB_PORT=')][-1]
for how, args in (('socket', ['-S', os.path.join(stack, 'run', 'mysql.sock')]),
                  ('TCP', ['-h', '127.0.0.1', '-P', dbport])):
    p = subprocess.run(['setpriv', '--reuid=daemon', '--regid=daemon',
                        '--clear-groups', 'mariadb', '--no-defaults', '-uroot']
                       + args + ['-e', 'SELECT 1'],
                       capture_output=True, text=True, timeout=30)
    check('MariaDB refuses root to local user daemon over %s' % how,
          p.returncode != 0 and ('1698' in p.stderr or '1045' in p.stderr),
          (p.returncode, p.stderr.strip()))

time.sleep(1)
check('pushd survived connections that closed before a request',
      pushd_before is not None and
      seclib.pid_of('pushd-pid') == pushd_before and
      os.path.exists('/proc/%d' % pushd_before))
got = ws_outcome('/ws', 'pulse-browser', ('employee', 'employee'), [])
check('... and still says hello on /ws', got[0] == 'hello', got)
check('... and /health still answers 200',
      call('GET', '/health', user=None)[0] == 200)
done()
