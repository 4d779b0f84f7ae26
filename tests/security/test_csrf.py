#!/usr/bin/env python3
"""Cross-site request forgery and cross-site websocket hijacking
(DESIGN section 6), with the admin's credentials, which a browser would
attach to a forged request:
  - every mutating route of router.c (POST, PUT, DELETE) refuses what an
    HTML form or a fetch without preflight can send: form-encoded,
    multipart and text/plain bodies (415), and a foreign, null or
    look-alike Origin even with a JSON body (403); afterwards nothing
    changed;
  - /ws refuses a foreign, null, look-alike or missing Origin before the
    upgrade;
  - no response ever carries an Access-Control-* header, preflights
    included, so no other site can read an answer or send JSON.
"""

import json
import time

import seclib
import wsclient
from pulse_test import (URL, at_end, call, check, create_workflow, done,
                        have_ctl, heartbeat, make_token, origin, prompt_step,
                        require, sql, start_execution, unique)

OWN = origin()
host_port = OWN.split('://', 1)[1]
FOREIGN = ['http://evil.example', 'null', 'https://' + host_port,
           OWN + '1', 'http://%s.evil.example' % host_port,
           'http://evil.example/' + host_port, OWN + '@evil.example',
           OWN.replace('127.0.0.1', 'localhost'), 'file://', '*',
           OWN + ', http://evil.example']

# --- fixtures: what a forged request would change -------------------------
require('PULSE_CTL is set (executions are counted in the database)',
        have_ctl())
wf = create_workflow('csrf', [prompt_step('Ask')])
require('fixture: a workflow', wf is not None)
WID = wf['id']
ex = start_execution(WID)
require('fixture: an execution at its prompt', ex is not None)
EID = ex['id']
hb_name = unique('csrf-worker')
require('fixture: a worker', heartbeat(hb_name)[0] == 200)
WKID = seclib.worker_id_of(hb_name)
at_end(lambda: call('DELETE', '/api/workers/%s' % WKID))


def snapshot():
    w = call('GET', '/api/workflows/' + WID)[2]
    e = call('GET', '/api/executions/' + EID)[2]
    workers = [x['id'] for x in call('GET', '/api/workers')[2]]
    # Counted in the database, not on a page of the list (which holds at
    # most 200): every execution, and this workflow's, whatever else the
    # stack has run.
    n_exec = sql("SELECT COUNT(*), COALESCE(SUM(workflow_id = '%s'), 0) "
                 "FROM executions" % WID)
    toks = [(t['id'], t['state']) for t in
            call('GET', '/api/enrollment-tokens')[2]]
    wk = [(x['id'], x['state'], x['groups']) for x in
          call('GET', '/api/workers')[2] if x['id'] == WKID]
    trg = [(t['id'], t['secret_hint']) for t in
           call('GET', '/api/triggers')[2]]
    # What a forged delete, test, retry or update would change.
    trg.append(sql("SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(status = "
                   "'dead'), 0)) FROM notifications WHERE channel_id = "
                   "'%s'" % CHN))
    trg.append(json.dumps(call('GET', '/api/schedules/' + SCH)[2].get(
        'enabled')))
    return (json.dumps(w, sort_keys=True), e.get('status'), toks, wk, trg,
            e.get('steps', [{}])[0].get('response'), WKID in workers,
            n_exec, sorted(x['name'] for x in call('GET',
                                                  '/api/workflows')[2]))


BODIES = {
    '/api/workers/:id/command': {'command': 'touch /tmp/csrf'},
    '/api/workflows': {'name': unique('csrf-forged'),
                       'definition': {'steps': [prompt_step('X')]}},
    '/api/workflows/:id': {'name': unique('csrf-forged-put'),
                           'definition': {'steps': [prompt_step('X')]}},
    '/api/executions': {'workflow_id': WID},
    '/api/executions/:id/respond': {'response': 'Yes'},
    '/api/executions/:id/cancel': {},
    '/api/workers/enroll': {'name': unique('csrf-enroll')},
    '/api/workers/:id/groups': {'groups': ['csrf']},
    '/api/triggers': {'name': unique('csrf-forged-trg'), 'workflow_id': WID},
}


TID = make_token(['csrf'])[2]['id']
_r = call('POST', '/api/triggers', body={'name': unique('csrf-trg'),
                                         'workflow_id': WID})
require('fixture: a trigger', _r[0] == 201, _r)
TRG = _r[2]['id']
at_end(lambda: call('DELETE', '/api/triggers/' + TRG))
_r = call('POST', '/api/channels', body={'name': unique('csrf-ch'),
                                         'type': 'webhook',
                                         'url': 'http://127.0.0.1:9/hook'})
require('fixture: a channel', _r[0] == 201, _r)
CHN = _r[2]['id']
at_end(lambda: call('DELETE', '/api/channels/' + CHN))
sql("INSERT INTO notifications (channel_id, event, payload, status, "
    "delivery_id) VALUES ('%s', 'test', '{}', 'dead', UUID())" % CHN)
NTF = sql("SELECT MAX(id) FROM notifications WHERE channel_id = '%s'" %
          CHN)[0][0]
_r = call('POST', '/api/schedules', body={
    'workflow_id': WID, 'name': unique('csrf-sch'), 'cron': '0 3 * * *',
    'timezone': 'UTC', 'enabled': False})
require('fixture: a schedule', _r[0] == 201, _r)
SCH = _r[2]['id']
at_end(lambda: call('DELETE', '/api/schedules/' + SCH))


def path_of(pattern):
    return pattern.replace(':id', {'workers': WKID, 'workflows': WID,
                                   'executions': EID,
                                   'enrollment-tokens': TID,
                                   'triggers': TRG, 'channels': CHN,
                                   'notifications': NTF,
                                   'schedules': SCH}.get(
        pattern.split('/')[2] if pattern.count('/') > 2 else '', ''))


def pace(pattern):
    """Stay under nginx's per-user limit on starting executions (10/s):
    a 429 would hide whether the check under test refused."""
    if pattern == '/api/executions':
        time.sleep(0.15)


def cors(r):
    return [k for k in r[1].keys() if k.lower().startswith('access-control')]


cors_seen = []
before = snapshot()
mutating = [(m, p) for m, p, flags in seclib.routes()
            if m in ('POST', 'PUT', 'DELETE', 'PATCH') and
            'ROUTE_WORKER' not in flags and
            # A hook's credential is the body's signature, never one a
            # browser attaches: a forged call has none and gets 401
            # (tests/integration/test_triggers.py, test_hook_identity.py).
            'ROUTE_HOOK' not in flags]
require('mutating routes found in router.c (%d)' % len(mutating),
        len(mutating) >= 8, mutating)

for method, pattern in mutating:
    path = path_of(pattern)
    body = json.dumps(BODIES.get(pattern, {}))
    # What a form can send without a preflight: no JSON type.
    if method != 'DELETE':
        for ctype, raw in (
                ('application/x-www-form-urlencoded',
                 'json=' + body),
                ('multipart/form-data; boundary=x',
                 '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n' +
                 body + '\r\n--x--\r\n'),
                ('text/plain', body),
                ('text/plain; charset=application/json', body),
                ('application/jsonx', body),
                ('application/json-patch+json', body)):
            for o in (None, 'http://evil.example'):
                hdrs = {'Content-Type': ctype}
                if o:
                    hdrs['Origin'] = o
                pace(pattern)
                r = call(method, path, raw=raw, headers=hdrs)
                check('%s %s, %s%s: refused' % (
                    method, pattern, ctype, ', Origin ' + o if o else ''),
                    r[0] in (403, 415), 'got %s %s' % (r[0], r[2]))
                if cors(r):
                    cors_seen.append((method, pattern, cors(r)))
    # JSON from another origin (a fetch with a preflight we never answer,
    # or a browser that skips it): refused by the Origin check.
    for o in FOREIGN:
        pace(pattern)
        r = call(method, path, raw=body if method != 'DELETE' else None,
                 headers={'Origin': o})
        check('%s %s, JSON, Origin %s: 403' % (method, pattern, o),
              r[0] == 403, 'got %s %s' % (r[0], r[2]))
        if cors(r):
            cors_seen.append((method, pattern, cors(r)))

after = snapshot()
check('after every forged request nothing changed (workflow, execution, '
      'answer, worker, counts)', before == after, [before, after])

# The same requests from our own origin do work: the refusals above are
# the Origin and type checks, not a broken route.
r = call('POST', '/api/executions/%s/respond' % EID, body={'response': 'No'},
         headers={'Origin': OWN})
check('respond from our own origin works (200)', r[0] == 200, r)

# --- preflights: never answered with CORS -----------------------------------
for method, pattern in mutating:
    r = call('OPTIONS', path_of(pattern), headers={
        'Origin': 'http://evil.example',
        'Access-Control-Request-Method': method,
        'Access-Control-Request-Headers': 'content-type'})
    check('preflight for %s %s: not allowed, no CORS headers' % (
        method, pattern), r[0] >= 400 and not cors(r),
        'got %s %s' % (r[0], cors(r)))
for path in ('/api/user', '/api/workflows', '/health', '/', '/ws'):
    r = call('GET', path, headers={'Origin': 'http://evil.example'})
    check('GET %s with a foreign Origin: no CORS headers' % path,
          not cors(r), cors(r))
check('no Access-Control-* header on any answer', not cors_seen,
      cors_seen[:5])

# --- cross-site websocket hijacking -------------------------------------------


def ws_try(hdrs, user=('admin', 'admin')):
    try:
        ws = wsclient.connect('/ws', 'pulse-browser', auth=user,
                              headers=hdrs)
    except wsclient.HandshakeRefused as e:
        return e.status
    except (OSError, wsclient.WSError) as e:
        return 'error: %s' % e
    try:
        m = ws.recv_json(5)
        return 'open' if m is not None else 'silent'
    except wsclient.Closed as e:
        return 'closed %s' % e.code
    finally:
        ws.close()


check('/ws with our own Origin opens', ws_try({'Origin': OWN}) == 'open')
for o in FOREIGN:
    got = ws_try({'Origin': o})
    check('/ws with Origin %s: refused before the upgrade (403)' % o,
          got == 403, got)
got = ws_try({})
check('/ws without Origin: refused (403)', got == 403, got)
got = ws_try({'Origin': OWN + ' http://evil.example'})
check('/ws with a list of origins: refused (403)', got == 403, got)
got = ws_try({'Origin': 'http://evil.example',
              'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil'})
check('/ws: forwarded headers from the client do not help (403)',
      got == 403, got)
check('URL under test is loopback', '127.0.0.1' in URL or 'localhost' in URL)
done()
