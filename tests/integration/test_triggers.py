#!/usr/bin/env python3
"""Inbound triggers (SPEC section 16): /api/triggers (admin) and the
signed POST /hooks/<id>, through nginx as GitHub, Gitea or a script would
call it.

A good signature in each of the three header spellings starts one
execution, started by trigger:<name>, with the parameters taken from the
body by dotted paths. Everything else is a 4xx JSON error with the
reason, starts nothing, and is visible on the trigger's deliveries:
missing or wrong signature 401, unknown or disabled trigger 404, a body
that is not JSON 400, over 1 MiB 413, a mapped parameter that fails the
workflow's validation 400 naming it, a delivery id seen before 409. The
secret is shown once (create, rotate) and never again, in no answer and
no log. Identity headers sent to a hook are ignored; past the burst
nginx answers 429.
"""

import hashlib
import hmac
import json
import os
import re
import time
import uuid

from pulse_test import (at_end, call, check, check_status, create_workflow,
                        diag, done, error_of, have_ctl, is_json_error,
                        is_uuid, prompt_step, require, sql, unique)

STACK = os.environ.get('PULSE_STACK', '')

require('PULSE_CTL is set (the tests read the tables)', have_ctl())


def count(table, where):
    return int(sql('SELECT COUNT(*) FROM %s WHERE %s' % (table, where))[0][0])


def sign(secret, data):
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def hook(tid, payload, secret=None, spelling='pulse', delivery=None,
         delivery_hdr='X-Pulse-Delivery', sig=None, extra=None,
         raw=None):
    """POST payload (a value sent as JSON, or raw bytes) to /hooks/tid,
    signed with secret in the given header spelling."""
    data = raw if raw is not None else json.dumps(payload).encode()
    h = [('Content-Type', 'application/json')]
    if sig is None and secret is not None:
        mac = sign(secret, data)
        sig = {'pulse': ('X-Pulse-Signature', 'sha256=' + mac),
               'github': ('X-Hub-Signature-256', 'sha256=' + mac),
               'gitea': ('X-Gitea-Signature', mac)}[spelling]
    if sig is not None:
        h.append(sig)
    if delivery is not None:
        h.append((delivery_hdr, delivery))
    h += extra or []
    return call('POST', '/hooks/' + tid, user=None, raw=data, headers=h)


def deliveries(tid, limit=200):
    r = call('GET', '/api/triggers/%s/deliveries?limit=%d' % (tid, limit))
    if r[0] != 200 or not isinstance(r[2], dict):
        diag('deliveries: %s %s' % (r[0], r[2]))
        return []
    return r[2].get('deliveries') or []


def last(tid):
    d = deliveries(tid, 1)
    return d[0] if d else {}


def execs_of(wid):
    return count('executions', "workflow_id = '%s'" % wid)


# --- a workflow with a validated parameter ------------------------------
wf = create_workflow('trig', [prompt_step('Go')])
require('workflow created', wf is not None)
WID = wf['id']
r = call('PUT', '/api/workflows/' + WID, body={
    'name': wf['name'], 'definition': {
        'params': [{'name': 'version', 'type': 'string',
                    'pattern': 'v[0-9.]+', 'required': True,
                    'max_length': 32},
                   {'name': 'sha', 'type': 'string', 'default': 'none'}],
        'steps': [prompt_step('Go')]}})
check_status('workflow given parameters', r, 200)

# --- create: admin only, the secret shown once ----------------------------
NAME = unique('hook')
body = {'name': NAME, 'workflow_id': WID,
        'params': {'version': 'release.tag_name', 'sha': 'commits.0.id'}}
r = call('POST', '/api/triggers', user='employee', body=body)
check_status('an employee may not create a trigger', r, 403)
r = call('POST', '/api/triggers', body=body)
check_status('admin creates a trigger', r, 201)
T = r[2] if isinstance(r[2], dict) else {}
TID = T.get('id', '')
SECRET = T.get('secret', '')
require('it has an id and a 64-hex secret',
        is_uuid(TID) and re.fullmatch('[0-9a-f]{64}', SECRET or ''), T)
at_end(lambda: call('DELETE', '/api/triggers/' + TID))
check('the answer has the hook URL', T.get('url') == '/hooks/' + TID, T)
check('... and the secret hint (its last 4)',
      T.get('secret_hint') == SECRET[-4:], T)
check('... and the parameter map', T.get('params') == body['params'], T)
r = call('POST', '/api/triggers', body=body)
check_status('the same name again is refused', r, 409)
check('... naming the field', isinstance(r[2], dict) and
      r[2].get('field') == 'name', r[2])

BADMAP = [
    ('a path with an empty segment', {'version': 'a..b'}),
    ('a path deeper than 16', {'version': '.'.join(['a'] * 17)}),
    ('a path over 256 bytes', {'version': 'a' * 257}),
    ('an index of 7 digits', {'version': 'commits.1234567.id'}),
    ('a path that is not a string', {'version': 3}),
]
for descr, m in BADMAP:
    r = call('POST', '/api/triggers', body={'name': unique('bad'),
                                            'workflow_id': WID, 'params': m})
    check_status('refused: %s' % descr, r, 400)
    check('... naming params.version', isinstance(r[2], dict) and
          r[2].get('field') == 'params.version', r[2])
r = call('POST', '/api/triggers', body={'name': unique('bad'),
                                        'workflow_id': str(uuid.uuid4())})
check_status('refused: an unknown workflow', r, 400)

r = call('POST', '/api/triggers', body={'name': 'n' * 248, 'workflow_id': WID})
check_status('refused: a name of 248 characters (trigger:<name> must fit '
             '255)', r, 400)
LONG = unique('l' * 238)
r = call('POST', '/api/triggers', body={'name': LONG, 'workflow_id': WID,
                                        'params': body['params']})
check_status('a name of 247 characters is taken', r, 201)
if r[0] == 201:
    long_t = r[2]
    r = hook(long_t['id'], {'release': {'tag_name': 'v7'}}, long_t['secret'])
    check_status('... and its hook starts an execution', r, 202)
    if r[0] == 202:
        e = call('GET', '/api/executions/' + r[2]['execution_id'])[2]
        check('... started by trigger:<247 characters>',
              e.get('started_by') == 'trigger:' + LONG, e.get('started_by'))
    check_status('(deleted)', call('DELETE', '/api/triggers/' +
                                   long_t['id']), 200)

# --- reads never show the secret ------------------------------------------
for path in ('/api/triggers', '/api/triggers?workflow_id=' + WID,
             '/api/triggers/' + TID, '/api/triggers/%s/deliveries' % TID):
    r = call('GET', path)
    check_status('GET %s' % path.split('?')[0], r, 200)
    check('... never the secret', SECRET not in json.dumps(r[2]))
r = call('GET', '/api/triggers?workflow_id=' + WID)
check('the workflow lists its trigger', isinstance(r[2], list) and
      [t.get('id') for t in r[2]] == [TID], r[2])
check('... with the hint, no secret field', isinstance(r[2], list) and
      r[2] and r[2][0].get('secret_hint') == SECRET[-4:] and
      'secret' not in r[2][0], r[2])
r = call('GET', '/api/triggers/' + TID, user='employee')
check_status('an employee may not read a trigger', r, 403)

# --- good signatures, each spelling ---------------------------------------
started = []
before = execs_of(WID)
for n, spelling in enumerate(('pulse', 'github', 'gitea')):
    payload = {'release': {'tag_name': 'v1.%d' % n},
               'commits': [{'id': 'abc%d' % n}, {'id': 'zzz'}]}
    r = hook(TID, payload, SECRET, spelling,
             delivery='d-%s-%s' % (spelling, uuid.uuid4().hex),
             delivery_hdr={'pulse': 'X-Pulse-Delivery',
                           'github': 'X-GitHub-Delivery',
                           'gitea': 'X-Gitea-Delivery'}[spelling])
    check_status('signed (%s spelling): 202' % spelling, r, 202)
    eid = r[2].get('execution_id') if isinstance(r[2], dict) else None
    check('... with the execution id', is_uuid(eid), r[2])
    if not is_uuid(eid):
        continue
    started.append(eid)
    e = call('GET', '/api/executions/' + eid)[2]
    check('... started by trigger:%s' % NAME,
          isinstance(e, dict) and e.get('started_by') == 'trigger:' + NAME,
          e)
    check('... with the mapped parameters', isinstance(e, dict) and
          e.get('params') == {'version': 'v1.%d' % n, 'sha': 'abc%d' % n},
          e.get('params') if isinstance(e, dict) else e)
    d = last(TID)
    check('... recorded as started with its execution',
          d.get('outcome') == 'started' and d.get('status') == 202 and
          d.get('execution_id') == eid, d)
check('three executions started', execs_of(WID) == before + 3)
if started:
    rows = sql("SELECT actor, action FROM audit_log WHERE target_id = '%s'"
               % started[0])
    check('the start is an audit row by trigger:%s' % NAME,
          rows == [['trigger:' + NAME, 'execution.start']], rows)

# A path the body lacks: no value, so the default applies.
r = hook(TID, {'release': {'tag_name': 'v2'}}, SECRET)
check_status('a body without the optional path: 202', r, 202)
if r[0] == 202:
    e = call('GET', '/api/executions/' + r[2]['execution_id'])[2]
    check('... the default fills it', e.get('params') ==
          {'version': 'v2', 'sha': 'none'}, e)

# An empty signature header is none: it must not hide a good signature
# sent in another spelling.
body = {'release': {'tag_name': 'v2.5'}}
r = hook(TID, body, sig=('X-Pulse-Signature', ''), extra=[(
    'X-Hub-Signature-256',
    'sha256=' + sign(SECRET, json.dumps(body).encode()))])
check_status('an empty X-Pulse-Signature beside a good GitHub one: 202', r,
             202)

# --- refusals: 4xx JSON, nothing started, each recorded -----------------
before = execs_of(WID)
GOOD = {'release': {'tag_name': 'v3'}}
data = json.dumps(GOOD).encode()


def refused(descr, r, status, outcome='refused', reason=None, field=None):
    check_status('%s: %d' % (descr, status), r, status)
    check('... a JSON error', is_json_error(r), r[2])
    if reason is not None:
        check('... saying %r' % reason, reason in error_of(r[2]), r[2])
    if field is not None:
        check('... naming %s' % field, isinstance(r[2], dict) and
              r[2].get('field') == field, r[2])
    d = last(TID)
    check('... recorded: %s %d' % (outcome, status),
          d.get('outcome') == outcome and d.get('status') == status and
          d.get('execution_id') is None and
          (reason is None or reason in (d.get('reason') or '')), d)


refused('no signature', hook(TID, GOOD), 401, reason='missing signature')
refused('a wrong signature', hook(TID, GOOD, 'f' * 64), 401,
        reason='does not match')
refused('a signature of another body',
        hook(TID, GOOD, sig=('X-Pulse-Signature',
                             'sha256=' + sign(SECRET, b'{}'))), 401)
refused('a signature without sha256=',
        hook(TID, GOOD, sig=('X-Pulse-Signature', sign(SECRET, data))), 401,
        reason='malformed')
refused('a short signature',
        hook(TID, GOOD, sig=('X-Hub-Signature-256', 'sha256=abcd')), 401,
        reason='malformed')
refused('a body that is not JSON',
        hook(TID, None, SECRET, raw=b'payload=%7B%7D'), 400,
        reason='not JSON')
refused('a JSON body that is no object',
        hook(TID, None, SECRET, raw=b'[1,2]'), 400, reason='object')
refused('a mapped parameter that fails validation',
        hook(TID, {'release': {'tag_name': 'x; rm -rf /'}}, SECRET), 400,
        reason='params.version', field='params.version')
refused('a required mapped parameter missing',
        hook(TID, {'release': {}}, SECRET), 400, field='params.version')
refused('a delivery id too long',
        hook(TID, GOOD, SECRET, delivery='x' * 129), 400)
big = b'{"pad":"' + b'x' * (1536 * 1024) + b'"}'
refused('a body of 1.5 MiB (pulse-api)', hook(TID, None, SECRET, raw=big),
        413, reason='too large')
n = len(deliveries(TID))
r = hook(TID, None, SECRET, raw=b'{"pad":"' + b'x' * (3 << 20) + b'"}')
check_status('a body of 3 MiB: 413 (nginx)', r, 413)
check('... a JSON error', is_json_error(r), r[2])
check('nothing started by any of them', execs_of(WID) == before)

# --- unknown and disabled triggers ------------------------------------------
for descr, tid in (('an unknown trigger id', str(uuid.uuid4())),
                   ('a path that is no id', 'nope')):
    r = hook(tid, GOOD, SECRET)
    check_status('%s: 404' % descr, r, 404)
    check('... "no such trigger"', error_of(r[2]) == 'no such trigger', r[2])
r = call('POST', '/api/triggers', body={'name': unique('off'),
                                        'workflow_id': WID,
                                        'enabled': False})
check_status('a disabled trigger is created', r, 201)
off = r[2] if isinstance(r[2], dict) else {}
if off.get('id'):
    at_end(lambda: call('DELETE', '/api/triggers/' + off['id']))
    r = hook(off['id'], GOOD, off['secret'])
    check_status('a disabled trigger: 404', r, 404)
    check('... "no such trigger"', error_of(r[2]) == 'no such trigger', r[2])
    d = deliveries(off['id'])
    check('... the attempt recorded with why', len(d) == 1 and
          'disabled' in (d[0].get('reason') or ''), d)
r = call('GET', '/hooks/' + TID, user=None)
check_status('GET on a hook: 405', r, 405)

# --- replays --------------------------------------------------------------
before = execs_of(WID)
D = 'replay-' + uuid.uuid4().hex
r = hook(TID, GOOD, SECRET, delivery=D, delivery_hdr='X-GitHub-Delivery')
check_status('a delivery id, first time: 202', r, 202)
first = r[2].get('execution_id') if isinstance(r[2], dict) else None
r = hook(TID, GOOD, SECRET, delivery=D, delivery_hdr='X-GitHub-Delivery')
refused('the same delivery again', r, 409, outcome='replayed',
        reason='already received')
r = hook(TID, {'release': {'tag_name': 'v9'}}, SECRET, delivery=D,
         spelling='gitea', delivery_hdr='X-Gitea-Delivery')
refused('the same delivery id with another body', r, 409,
        outcome='replayed')
check('only the first started one', execs_of(WID) == before + 1)
check('... its delivery row names it', any(
    d.get('delivery_id') == D and d.get('execution_id') == first
    for d in deliveries(TID)))
# A refused delivery does not use up its id: the sender's redelivery,
# once fixed, starts.
D2 = 'fixed-' + uuid.uuid4().hex
r = hook(TID, GOOD, 'b' * 64, delivery=D2)
check_status('a delivery with a wrong signature: 401', r, 401)
r = hook(TID, GOOD, SECRET, delivery=D2)
check_status('... its redelivery, signed: 202', r, 202)
check('... the refused one recorded with its delivery id', any(
    d.get('delivery_id') == D2 and d.get('status') == 401
    for d in deliveries(TID)))

# --- identity headers are not an identity here -----------------------------
time.sleep(2.5)     # TID's burst refills (see the rate limit below)
before = execs_of(WID)
r = hook(TID, GOOD, SECRET, extra=[('Remote-User', 'admin'),
                                   ('Remote-Groups', 'admins'),
                                   ('Remote-Name', 'Admin'),
                                   ('Remote-Email', 'a@example.com')])
check_status('Remote-* sent to a hook are ignored: 202', r, 202)
if r[0] == 202:
    e = call('GET', '/api/executions/' + r[2]['execution_id'])[2]
    check('... started by the trigger, not by them',
          e.get('started_by') == 'trigger:' + NAME, e)
r = hook(TID, GOOD, extra=[('Remote-User', 'admin'),
                           ('Remote-Groups', 'admins')])
check_status('... and do not replace a signature: 401', r, 401)
r = call('POST', '/hooks/' + TID, user='admin', raw=data,
         headers={'X-Pulse-Signature': 'sha256=' + 'a' * 64})
check_status('SSO credentials do not replace a signature: 401', r, 401)
check('one started', execs_of(WID) == before + 1)

# --- every attempt recorded -------------------------------------------------
d = deliveries(TID)
outcomes = [x.get('outcome') for x in d]
check('deliveries: newest first, every attempt',
      len(d) == 24 and outcomes.count('started') == 8 and
      outcomes.count('replayed') == 2, outcomes)
check('... each with a status and (unless started) a reason', all(
    isinstance(x.get('status'), int) and
    (x.get('outcome') == 'started' or x.get('reason')) for x in d), d)
check('... ids descending', [x['id'] for x in d] ==
      sorted((x['id'] for x in d), reverse=True))

# --- rotate ---------------------------------------------------------------
time.sleep(2.5)     # TID's burst refills (see the rate limit below)
r = call('POST', '/api/triggers/%s/rotate' % TID, user='employee', body={})
check_status('an employee may not rotate', r, 403)
r = call('POST', '/api/triggers/%s/rotate' % TID, body={})
check_status('rotate: 200', r, 200)
NEW = r[2].get('secret', '') if isinstance(r[2], dict) else ''
check('... a new 64-hex secret, shown once',
      re.fullmatch('[0-9a-f]{64}', NEW) and NEW != SECRET, r[2])
check('... the hint follows', r[2].get('secret_hint') == NEW[-4:], r[2])
r = hook(TID, GOOD, SECRET)
check_status('the old secret no longer signs: 401', r, 401)
r = hook(TID, GOOD, NEW)
check_status('the new one does: 202', r, 202)
r = call('GET', '/api/triggers/' + TID)
check('GET shows neither secret', SECRET not in json.dumps(r[2]) and
      NEW not in json.dumps(r[2]))

# --- audit ----------------------------------------------------------------
rows = sql("SELECT action, actor FROM audit_log WHERE target_id = '%s' "
           "ORDER BY id" % TID)
check('audit: trigger.create and trigger.rotate by admin (so far)',
      rows == [['trigger.create', 'admin'], ['trigger.rotate', 'admin']],
      rows)
check('... their details never hold a secret', not any(
    s in ''.join(x[0] for x in sql(
        "SELECT COALESCE(details, '') FROM audit_log WHERE target_id = '%s'"
        % TID)) for s in (SECRET, NEW)))

# --- rate limit (nginx, per trigger) ----------------------------------------
# The calls above came faster than 10 a second: let TID's bucket refill
# (a burst of 20 at 10/s) so the check below sees only the new trigger's.
time.sleep(2.5)
r = call('POST', '/api/triggers', body={'name': unique('rate'),
                                        'workflow_id': WID})
check_status('a trigger for the rate limit', r, 201)
rt = r[2] if isinstance(r[2], dict) else {}
if rt.get('id'):
    at_end(lambda: call('DELETE', '/api/triggers/' + rt['id']))
    def rt_rows():
        return count('trigger_deliveries', "trigger_id = '%s'" % rt['id'])
    n0, e0 = rt_rows(), execs_of(WID)
    r = hook(rt['id'].upper(), GOOD, rt.get('secret'))
    check_status('the trigger id in upper case, well signed: 404', r, 404)
    check('... recorded nowhere, nothing started', rt_rows() == n0 and
          execs_of(WID) == e0, rt_rows())
    codes = [hook(rt['id'], GOOD)[0] for _ in range(40)]
    check('40 calls at once: 401 up to the burst, then 429',
          codes[:20] == [401] * 20 and 429 in codes, codes)

    def variant(i):
        # Each with some letters upper case, and each spelled differently.
        return ''.join(c.upper() if c.isalpha() and (j + i) % 3 == 0 else c
                       for j, c in enumerate(rt['id']))
    vcodes = [hook(variant(i), GOOD)[0] for i in range(40)]
    check('... 40 more in case variants: each 404, no bucket of their own',
          set(vcodes) == {404}, vcodes)
    check('... the attempts recorded are the 401s of the one id only',
          rt_rows() == n0 + codes.count(401), (rt_rows(), n0, codes))
    r = hook(rt['id'], GOOD)
    check('... the 429 is a JSON error', r[0] != 429 or is_json_error(r),
          r[2])
    r = hook(TID, GOOD, NEW)
    check_status('... another trigger is not slowed', r, 202)

# --- update: enable, disable, the parameter map -----------------------------
time.sleep(2.5)
r = call('PUT', '/api/triggers/' + TID, user='employee', body={'enabled': False})
check_status('an employee may not change a trigger', r, 403)
r = call('PUT', '/api/triggers/' + TID, body={'name': 'other'})
check_status('the name cannot change', r, 400)
r = call('PUT', '/api/triggers/' + TID, body={'enabled': 'no'})
check_status('enabled must be a boolean', r, 400)
r = call('PUT', '/api/triggers/' + TID, body={'enabled': False})
check_status('disable: 200', r, 200)
check('... the answer says so, without the secret',
      isinstance(r[2], dict) and r[2].get('enabled') is False and
      NEW not in json.dumps(r[2]), r[2])
r = hook(TID, GOOD, NEW)
check_status('a disabled trigger\'s hook: 404', r, 404)
r = call('PUT', '/api/triggers/' + TID, body={
    'enabled': True, 'params': {'version': 'tag'}})
check_status('enable with another map: 200', r, 200)
check('... the map is stored', r[2].get('params') == {'version': 'tag'},
      r[2])
r = hook(TID, {'tag': 'v5'}, NEW)
check_status('the hook takes the new path', r, 202)
if r[0] == 202:
    e = call('GET', '/api/executions/' + r[2]['execution_id'])[2]
    check('... with its value', e.get('params', {}).get('version') == 'v5',
          e.get('params'))
r = call('PUT', '/api/triggers/' + TID, body={'params': {'version': 'a..b'}})
check_status('a bad path in an update: 400', r, 400)
rows = sql("SELECT COUNT(*) FROM audit_log WHERE target_id = '%s' AND "
           "action = 'trigger.update'" % TID)
check('two trigger.update audit rows', rows == [['2']], rows)

# --- the replay window is 24 hours ------------------------------------------
D3 = 'old-' + uuid.uuid4().hex
GOOD = {'tag': 'v6'}    # the map is {"version": "tag"} now
r = hook(TID, GOOD, NEW, delivery=D3)
check_status('a delivery id: 202', r, 202)
r = hook(TID, GOOD, NEW, delivery=D3)
check_status('... again within 24 h: 409', r, 409)
sql("UPDATE idempotency_keys SET created_at = NOW(3) - INTERVAL 25 HOUR "
    "WHERE username = 'trigger:%s' AND idem_key = '%s'" % (NAME, D3))
r = hook(TID, GOOD, NEW, delivery=D3)
check_status('... again after 24 h: 202', r, 202)

# --- each trigger keeps its last 1,000 attempts ------------------------------
time.sleep(2.5)
sql("INSERT INTO trigger_deliveries (trigger_id, status, outcome, reason) "
    "SELECT '%s', 401, 'refused', 'filler' FROM seq_1_to_1005" % TID)
r = hook(TID, GOOD)
check_status('one more attempt', r, 401)
check('the trigger keeps exactly its newest 1,000 attempts', count(
    'trigger_deliveries', "trigger_id = '%s'" % TID) == 1000)
check('... the newest among them', last(TID).get('reason', '').startswith(
    'missing signature'), last(TID))
rows = sql("SELECT COUNT(*) FROM trigger_deliveries WHERE trigger_id = '%s' "
           "AND reason <> 'filler'" % TID)
check('... and the oldest went first', rows == [['1']], rows)

# --- delete -----------------------------------------------------------------
time.sleep(2.5)
r = call('DELETE', '/api/triggers/' + TID, user='employee')
check_status('an employee may not delete', r, 403)
r = call('DELETE', '/api/triggers/' + TID)
check_status('delete: 200', r, 200)
r = hook(TID, GOOD, NEW)
check_status('its hook is gone: 404', r, 404)
check('... its deliveries too', count(
    'trigger_deliveries', "trigger_id = '%s'" % TID) == 0)
check('audit: trigger.delete by admin', sql(
    "SELECT action, actor FROM audit_log WHERE target_id = '%s' "
    "ORDER BY id DESC LIMIT 1" % TID) == [['trigger.delete', 'admin']])

# --- no secret in any log -------------------------------------------------
if STACK:
    found = []
    logdir = os.path.join(STACK, 'log')
    for f in sorted(os.listdir(logdir)):
        with open(os.path.join(logdir, f), 'rb') as fh:
            text = fh.read()
        for s in (SECRET, NEW):
            if len(s) == 64 and s.encode() in text:
                found.append(f)
    check('no secret in the stack\'s logs (%s)' % logdir, found == [], found)
else:
    check('PULSE_STACK is set (the logs are read)', False)

done()
