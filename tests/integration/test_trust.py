#!/usr/bin/env python3
"""Per-worker identity (SPEC section 12), against the real stack:
- enrollment tokens: shown once, uses counted, expiry, used-up, revoked and
  unknown tokens refused (401 with the reason) with nothing created; every
  bad field a 400 naming it;
- a worker key names its worker: the shared key cannot act as an enrolled
  worker, worker A's key cannot claim B's id in any message, and a result
  for B's command sent on A's socket is not recorded;
- revoke mid-command: the socket is closed within 1 s, nothing it sends
  afterwards is taken, its key is dead;
- a pending shared-key worker gets nothing from `all`, a group, its name
  or a direct command until an admin accepts it, then runs;
- the groups a worker asks for never widen the groups it was granted;
- heartbeats: own key with X-Worker-Id, shared key only for keyless ids;
- a replacement candidate and its acceptance; key rotation over the socket
  (key_ack, or a reconnect with the offered key as the ack; offered again
  to a worker that was offline)."""

import threading
import time
import uuid

import wsclient
from live import run, execute, wait_execution, by_worker
from pulse_test import (URL, WORKER_API_KEY, WsWorker, accept, call, check,
                        diag, done, enroll, enroll_accepted, enroll_raw,
                        error_of, find_worker, make_token, require, sql,
                        unique, wait_for, worker_by_id)

assert URL


def names_like(prefix):
    r = call('GET', '/api/workers')
    return [w['name'] for w in r[2] if w['name'].startswith(prefix)]


def closed_with(w, text, timeout=5):
    c = w.closed(timeout)
    return c is not None and c[0] == 1008 and text in (c[1] or ''), c


def dispatch_of(eid, timeout=10):
    def probe():
        e = call('GET', '/api/executions/%s' % eid)[2]
        ds = e['steps'][0].get('dispatches') or [] if isinstance(e, dict) \
            else []
        return ds[0] if ds else None
    return wait_for(probe, timeout)


def command(wid, cmd='echo hi', timeout=60):
    return call('POST', '/api/workers/%s/command' % wid,
                body={'command': cmd, 'timeout': timeout})


# --- tokens ------------------------------------------------------------------
group = unique('tg')
r = make_token([group], uses=2, expires_in=600000)
require('POST /api/enrollment-tokens: 201', r[0] == 201, r)
tok = r[2]
check('the token: 43 characters of base64url',
      isinstance(tok.get('token'), str) and len(tok['token']) == 43 and
      all(c.isalnum() or c in '-_' for c in tok['token']), tok)
check('the token answer: id, groups, uses_left, expires_at',
      tok.get('groups') == [group] and tok.get('uses_left') == 2 and
      isinstance(tok.get('expires_at'), str), tok)
r = call('GET', '/api/enrollment-tokens')
mine = [t for t in r[2] if t.get('id') == tok['id']] \
    if isinstance(r[2], list) else []
check('GET /api/enrollment-tokens lists it, without the token',
      len(mine) == 1 and 'token' not in mine[0], mine)
check('the token is stored hashed, never as itself',
      sql("SELECT COUNT(*) FROM enrollment_tokens WHERE token_hash = '%s'"
          % tok['token']) == [['0']] and
      sql("SELECT COUNT(*) FROM enrollment_tokens WHERE token_hash = "
          "SHA2('%s', 256)" % tok['token']) == [['1']])
check('an employee cannot create tokens',
      make_token([group], user='employee')[0] == 403)
check('an employee cannot list tokens',
      call('GET', '/api/enrollment-tokens', user='employee')[0] == 403)

for body, field in (({'uses': 0}, 'uses'), ({'uses': 10001}, 'uses'),
                    ({'uses': 'x'}, 'uses'), ({'expires_in': 1000},
                                              'expires_in'),
                    ({'expires_in': 2592000001}, 'expires_in'),
                    ({'groups': 'web'}, 'groups'), ({'groups': ['']},
                                                    'groups'),
                    ({'groups': ['a', 'a']}, 'groups'),
                    ({'bogus': 1}, 'bogus')):
    r = call('POST', '/api/enrollment-tokens', body=body)
    check('token %s: 400 naming %s' % (body, field), r[0] == 400 and
          isinstance(r[2], dict) and r[2].get('field') == field, r[2])

# --- enrollment by token ---------------------------------------------------
pre = unique('tr')
name_a, name_b = pre + '-a', pre + '-b'
r = enroll_raw(name_a, ['asked-for'], token=tok['token'])
require('enroll A with the token: 201', r[0] == 201, r)
a_id, a_key = r[2]['worker_id'], r[2]['key']
check('enroll answers worker_id, name, key, state accepted, the token\'s '
      'groups', r[2].get('name') == name_a and r[2].get('state') ==
      'accepted' and r[2].get('groups') == [group] and len(a_key) == 43,
      r[2])
call_cleanup = []
r = enroll_raw(name_b, [], token=tok['token'])
require('enroll B with the same token (2 uses): 201', r[0] == 201, r)
b_id, b_key = r[2]['worker_id'], r[2]['key']
for wid in (a_id, b_id):
    call_cleanup.append(wid)
r = call('GET', '/api/enrollment-tokens')
t = [x for x in r[2] if x['id'] == tok['id']][0]
check('the token\'s uses are counted: 0 left, state used',
      t['uses_left'] == 0 and t['state'] == 'used', t)
r = enroll_raw(pre + '-c', [], token=tok['token'])
check('a used-up token: 401 saying so', r[0] == 401 and
      'used up' in error_of(r[2]), r)
check('... and nothing was created', names_like(pre + '-c') == [])

# A 201 lost on its way (a reset, a proxy timeout): the agent asks again
# with the id it stored first and the same token.
t_lost = make_token([group], uses=1)[2]
l_name, l_id = pre + '-lost', str(uuid.uuid4())
r = enroll_raw(l_name, [], token=t_lost['token'], worker_id=l_id)
require('enroll with a one-use token and its own id: 201', r[0] == 201 and
        r[2]['worker_id'] == l_id, r)
lost_key = r[2]['key']  # the answer that never arrived
call_cleanup.append(l_id)
r = enroll_raw(l_name, [], token=t_lost['token'], worker_id=l_id)
check('asked again (same id, same used-up token): 201, the same worker, '
      'accepted, a new key', r[0] == 201 and r[2].get('worker_id') == l_id
      and r[2].get('state') == 'accepted' and r[2].get('groups') == [group]
      and r[2].get('key') not in (None, lost_key), r)
l_key = r[2].get('key', '')
check('... one worker', names_like(l_name) == [l_name], names_like(l_name))
t = [x for x in call('GET', '/api/enrollment-tokens')[2]
     if x['id'] == t_lost['id']][0]
check('... the token not used again (uses_left 0, not below)',
      t['uses_left'] == 0, t)
ok, c = closed_with(WsWorker(l_name, [], key=lost_key, worker_id=l_id),
                    'key refused')
check('... the lost key is dead', ok, c)
wl = WsWorker(l_name, [], key=l_key, worker_id=l_id)
check('... the new one gets in', wl.state() == 'accepted')
wl.close()
r = enroll_raw(l_name, [], token=t_lost['token'], worker_id=l_id)
check('once its key was used, the same request: 401 already enrolled',
      r[0] == 401 and 'already enrolled' in error_of(r[2]), r)
r = enroll_raw(pre + '-lost2', [], token=make_token([group])[2]['token'],
               worker_id=l_id)
check('another token naming that id: 401 already enrolled',
      r[0] == 401 and 'already enrolled' in error_of(r[2]), r)

# The last uses, raced for: one UPDATE decides each, so exactly `uses`
# workers come in, whatever the timing.
t_race = make_token([group], uses=3)[2]
race = []


def racer(i):
    race.append(enroll_raw('%s-race-%d' % (pre, i), [],
                           token=t_race['token']))


threads = [threading.Thread(target=racer, args=(i,)) for i in range(12)]
for th in threads:
    th.start()
for th in threads:
    th.join()
won = [x for x in race if x[0] == 201]
check('12 enrollments racing for a token of 3 uses: 3 succeed, 9 are 401 '
      'used up', len(won) == 3 and sum(
          1 for x in race if x[0] == 401 and 'used up' in error_of(x[2]))
      == 9, [x[0] for x in race])
check('... and exactly 3 workers exist',
      len(names_like(pre + '-race-')) == 3, names_like(pre + '-race-'))
for x in won:
    call_cleanup.append(x[2]['worker_id'])

r = make_token([group], uses=5)
t2 = r[2]
sql("UPDATE enrollment_tokens SET expires_at = NOW(3) - INTERVAL 1 SECOND "
    "WHERE id = '%s'" % t2['id'])
r = enroll_raw(pre + '-exp', [], token=t2['token'])
check('an expired token: 401 saying so', r[0] == 401 and
      'expired' in error_of(r[2]), r)
check('... nothing created, no use taken',
      names_like(pre + '-exp') == [] and
      sql("SELECT uses_left FROM enrollment_tokens WHERE id = '%s'"
          % t2['id']) == [['5']])

t3 = make_token([group], uses=5)[2]
r = call('DELETE', '/api/enrollment-tokens/' + t3['id'])
check('DELETE /api/enrollment-tokens/:id: 200, revoked',
      r[0] == 200 and r[2].get('state') == 'revoked', r)
r = enroll_raw(pre + '-rev', [], token=t3['token'])
check('a revoked token: 401 saying so', r[0] == 401 and
      'revoked' in error_of(r[2]), r)
check('... and nothing was created', names_like(pre + '-rev') == [])
r = enroll_raw(pre + '-unk', [], token='A' * 43)
check('an unknown token: 401', r[0] == 401 and 'unknown' in error_of(r[2]),
      r)
r = enroll_raw(pre + '-bad', [], key='not-the-key')
check('no token and a wrong shared key: 401, nothing created',
      r[0] == 401 and names_like(pre + '-bad') == [], r)
check('DELETE of an unknown token: 404',
      call('DELETE', '/api/enrollment-tokens/' + str(uuid.uuid4()))[0] ==
      404)

for body, field in (({}, 'name'), ({'name': ''}, 'name'),
                    ({'name': 'x', 'groups': 'a'}, 'groups'),
                    ({'name': 'x', 'worker_id': 'nope'}, 'worker_id'),
                    ({'name': 'x', 'version': 5}, 'version'),
                    ({'name': 'x', 'token': 5}, 'token'),
                    ({'name': 'x', 'bogus': 1}, 'bogus')):
    r = call('POST', '/api/workers/enroll', user=None, body=body,
             headers={'X-API-Key': WORKER_API_KEY})
    check('enroll %s: 400 naming %s' % (body, field), r[0] == 400 and
          isinstance(r[2], dict) and r[2].get('field') == field, r[2])
r = enroll_raw(pre + '-again', [], worker_id=a_id)
check('enrolling an id that has a key: 401 "already enrolled"',
      r[0] == 401 and 'already enrolled' in error_of(r[2]), r)
check('the key is stored hashed',
      sql("SELECT COUNT(*) FROM worker_keys WHERE worker_id = '%s' AND "
          "key_hash = SHA2('%s', 256)" % (a_id, a_key)) == [['1']])

w = worker_by_id(a_id)
check('worker JSON: state, groups (granted), requested_groups, replaces, '
      'has_key, rotation', w is not None and w.get('state') == 'accepted'
      and w.get('groups') == [group] and w.get('requested_groups') ==
      ['asked-for'] and w.get('replaces') is None and
      w.get('has_key') is True and w.get('rotation') is None, w)

# --- the key names the worker ----------------------------------------------
wa = WsWorker(name_a, [group], key=a_key, worker_id=a_id)
check('A connects with its own key: worker_state accepted',
      wa.state() == 'accepted')
wb = WsWorker(name_b, [], key=b_key, worker_id=b_id)
check('B connects with its own key', wb.state() == 'accepted')

imp = WsWorker(name_a, [group], worker_id=a_id)  # shared key, A's id
ok, c = closed_with(imp, 'key refused')
check('the shared key claiming enrolled A\'s id: closed 1008 "key '
      'refused"', ok, c)
wa.send({'type': 'pong'})
row = worker_by_id(a_id)
check('... and A\'s own socket is still the one on record',
      row['status'] == 'online' and row['command_channel'], row)

x = WsWorker(name_b, [], key=a_key, worker_id=b_id, header_id=a_id)
ok, c = closed_with(x, 'worker_id does not match the key')
check('A\'s key with worker_connect for B: closed 1008 "worker_id does '
      'not match the key"', ok, c)
x = WsWorker(name_b, [], key=a_key, worker_id=b_id)
ok, c = closed_with(x, 'key refused')
check('A\'s key presented as B (X-Worker-Id B): closed 1008 "key refused"',
      ok, c)
try:
    wsclient.connect('/worker', 'pulse-worker',
                     headers={'X-API-Key': 'x' * 43, 'X-Worker-Id': 'nope'})
    refused = None
except wsclient.HandshakeRefused as e:
    refused = e.status
check('a malformed X-Worker-Id: 401 at the handshake', refused == 401)

# B's command; A reports on it (claiming B, then as itself).
r = command(b_id, 'echo real')
require('a command for B', r[0] == 201, r)
cmd_b = wb.next_command()
require('B receives it', cmd_b is not None)
x = WsWorker(name_a + '-x', [], key=a_key, worker_id=a_id)
x.state()
row = worker_by_id(a_id)
x.send(dict(x.result(cmd_b, 'forged\n'), worker_id=b_id))
ok, c = closed_with(x, 'worker_id does not match the key')
check('A\'s socket sending a result with B\'s worker_id: closed 1008', ok, c)
x = WsWorker(name_a, [], key=a_key, worker_id=a_id)
x.state()
x.send(x.result(cmd_b, 'forged\n'))
c = x.closed(5)
check('A\'s socket sending a result for B\'s command as itself: closed '
      '1008', c is not None and c[0] == 1008, c)
for mtype, extra in (('command_started', {}),
                     ('command_output', {'stream': 'stdout', 'offset': 0,
                                         'data': 'Zm9yZ2Vk'}),
                     ('pong', {}), ('key_ack', {'key_id': '1'})):
    x = WsWorker(name_a, [], key=a_key, worker_id=a_id)
    x.state()
    msg = {'type': mtype, 'worker_id': b_id,
           'command_id': cmd_b['command_id'],
           'execution_id': cmd_b['execution_id']}
    msg.update(extra)
    if mtype in ('pong', 'key_ack'):
        msg.pop('command_id')
        msg.pop('execution_id')
    x.send(msg)
    ok, c = closed_with(x, 'worker_id does not match the key')
    check('A\'s socket: %s claiming B: closed 1008' % mtype, ok, c)
wb.send(wb.result(cmd_b, 'real\n'))
e = wait_execution(cmd_b['execution_id'])
d = e['steps'][0]['dispatches'][0]
check('only B\'s own result was recorded', d['stdout'] == 'real\n' and
      d['status'] == 'succeeded', d)

# --- revoke mid-command ------------------------------------------------------
wa = WsWorker(name_a, [group], key=a_key, worker_id=a_id)
wa.state()
r = command(b_id, 'sleep 30')
cmd = wb.next_command()
require('B is running a command', cmd is not None)
t0 = time.monotonic()
r = call('POST', '/api/workers/%s/revoke' % b_id,
         headers={'Content-Type': 'application/json'})
check('POST /api/workers/:id/revoke: 200, state revoked',
      r[0] == 200 and r[2].get('state') == 'revoked', r)
c = wb.closed(5)
took = time.monotonic() - t0
diag('revoke -> socket closed in %.3f s' % took)
check('revoked: B\'s socket closed 1008 "worker revoked" within 1 s',
      c is not None and c[0] == 1008 and 'revoked' in c[1] and took <= 1.0,
      (c, took))
x = WsWorker(name_b, [], key=b_key, worker_id=b_id)
x.send(x.result(cmd, 'after revoke\n'))
ok, c = closed_with(x, 'key refused')
check('B reconnecting with its revoked key: closed 1008 "key refused"', ok,
      c)
e = wait_execution(cmd['execution_id'])
d = e['steps'][0]['dispatches'][0]
check('the result sent after the revocation was not accepted',
      d['status'] == 'lost' and d.get('stdout') != 'after revoke\n', d)
r = call('POST', '/api/workers/heartbeat', user=None,
         body={'worker_id': b_id, 'name': name_b, 'metadata': {}},
         headers={'X-API-Key': b_key, 'X-Worker-Id': b_id})
check('a revoked worker\'s heartbeat: 401', r[0] == 401 and
      'revoked' in error_of(r[2]), r)
check('a revoked worker cannot be commanded',
      command(b_id)[0] == 409)

# A revocation whose trust event pushd never saw (written by hand here, as
# a late commit would leave it): the periodic check still closes it.
s_id, s_key = enroll_accepted(pre + '-sql')
ws_ = WsWorker(pre + '-sql', [], key=s_key, worker_id=s_id)
ws_.state()
sql("UPDATE workers SET state = 'revoked' WHERE id = '%s'" % s_id)
ok, c = closed_with(ws_, 'worker revoked', timeout=15)
check('a revoked worker without its trust event: closed within the '
      'periodic check (10 s)', ok, c)

# --- pending until accepted --------------------------------------------------
pgroup = unique('pg')
p_name = pre + '-p'
wp = WsWorker(p_name, [pgroup])  # the shared key, a new id: version 1
check('a new shared-key worker is told it is pending', wp.state() ==
      'pending')
p_id = wp.id
row = wait_for(lambda: worker_by_id(p_id), 10)
check('it is listed: pending, online, no groups granted, its request kept',
      row is not None and row['state'] == 'pending' and
      row['status'] == 'online' and row['groups'] == [] and
      row['requested_groups'] == [pgroup] and row['has_key'] is False, row)
e = run([execute('all', 'echo hi', ['all'], timeout=5)], prefix='trust')
got = wp.next_command(3)
check('a pending worker gets nothing from `all`', got is None, got)
e = wait_execution(e['id'])
check('... and is no dispatch of it', p_name not in by_worker(e, 0),
      list(by_worker(e, 0)))
e = wait_execution(run([execute('g', 'echo hi', ['group:' + pgroup])],
                       prefix='trust')['id'])
check('a group step finds no pending worker (fails)',
      e['status'] == 'failed' and wp.next_command(1) is None,
      e['steps'][0])
e = wait_execution(run([execute('n', 'echo hi', [p_name])],
                       prefix='trust')['id'])
check('a step naming a pending worker fails saying it is pending',
      e['status'] == 'failed' and 'pending' in
      (e['steps'][0].get('error') or e['steps'][0].get('reason') or
       str(e['steps'][0])), e['steps'][0])
r = command(p_id)
check('a direct command to a pending worker: 409 saying pending',
      r[0] == 409 and 'pending' in error_of(r[2]), r)
r = accept(p_id)
check('POST /api/workers/:id/accept: 200, accepted with the groups it '
      'asked for', r[0] == 200 and r[2]['state'] == 'accepted' and
      r[2]['groups'] == [pgroup], r)
m = wp.next('worker_state', 5)
check('the worker is told: worker_state accepted',
      m is not None and m.get('state') == 'accepted', m)
e = run([execute('g', 'echo hi', ['group:' + pgroup])], prefix='trust')
cmd = wp.next_command(10)
check('accepted, it runs its group\'s step', cmd is not None)
if cmd:
    wp.send(wp.result(cmd, 'hi\n'))
e = wait_execution(e['id'])
check('... to the end', e['status'] == 'completed', e['status'])

# --- requested groups never widen granted ones -----------------------------
wider = unique('wide')
wp.close()
wp = WsWorker(p_name, [pgroup, wider], worker_id=p_id)
wp.state()
row = worker_by_id(p_id)
check('asking for more groups on reconnect changes the request only',
      row['requested_groups'] == [pgroup, wider] and
      row['groups'] == [pgroup], row)
e = wait_execution(run([execute('w', 'echo hi', ['group:' + wider])],
                       prefix='trust')['id'])
check('... the new group has no worker', e['status'] == 'failed' and
      wp.next_command(1) is None, e['status'])
wa.close()
wa = WsWorker(name_a, [group, wider], key=a_key, worker_id=a_id)
wa.state()
check('an enrolled worker asking for more groups gets none',
      worker_by_id(a_id)['groups'] == [group], worker_by_id(a_id))
r = call('PUT', '/api/workers/%s/groups' % p_id, body={'groups': [wider]})
check('PUT /api/workers/:id/groups: the admin grants', r[0] == 200 and
      r[2]['groups'] == [wider], r)
for body, field in (({}, 'groups'), ({'groups': 'x'}, 'groups'),
                    ({'groups': [1]}, 'groups'), ({'groups': [], 'x': 1},
                                                  'x')):
    r = call('PUT', '/api/workers/%s/groups' % p_id, body=body)
    check('groups %s: 400 naming %s' % (body, field), r[0] == 400 and
          r[2].get('field') == field, r[2])
check('accept/revoke/rotate/groups of an unknown worker: 404',
      accept(str(uuid.uuid4()))[0] == 404 and
      call('PUT', '/api/workers/%s/groups' % uuid.uuid4(),
           body={'groups': []})[0] == 404)
check('an employee cannot accept', call(
    'POST', '/api/workers/%s/accept' % p_id, user='employee',
    headers={'Content-Type': 'application/json'})[0] == 403)

# --- heartbeats --------------------------------------------------------------


def beat(wid, key, header_id, name):
    h = {'X-API-Key': key}
    if header_id:
        h['X-Worker-Id'] = header_id
    return call('POST', '/api/workers/heartbeat', user=None,
                body={'worker_id': wid, 'name': name, 'metadata': {}},
                headers=h)


check('heartbeat with its own key and X-Worker-Id: 200',
      beat(a_id, a_key, a_id, name_a)[0] == 200)
r = beat(a_id, WORKER_API_KEY, None, name_a)
check('heartbeat of an enrolled worker with the shared key: 401',
      r[0] == 401 and 'already enrolled' in error_of(r[2]), r)
r = beat(p_id, a_key, a_id, p_name)
check('heartbeat with A\'s key for another worker_id: 401',
      r[0] == 401 and 'does not match' in error_of(r[2]), r)
r = beat(a_id, 'B' * 43, a_id, name_a)
check('heartbeat with a wrong key: 401', r[0] == 401, r)
check('heartbeat of a keyless worker with the shared key: 200',
      beat(p_id, WORKER_API_KEY, None, p_name)[0] == 200)
check('... and with its X-Worker-Id too: 200',
      beat(p_id, WORKER_API_KEY, p_id, p_name)[0] == 200)
r = beat(p_id, WORKER_API_KEY, a_id, p_name)
check('the shared key with an X-Worker-Id that is not the body\'s: 401',
      r[0] == 401 and 'does not match' in error_of(r[2]), r)
r = beat(a_id, WORKER_API_KEY, a_id, name_a)
check('the shared key with an enrolled worker\'s X-Worker-Id: 401',
      r[0] == 401 and 'already enrolled' in error_of(r[2]), r)
nid = str(uuid.uuid4())
r = beat(nid, WORKER_API_KEY, None, pre + '-hb')
check('a new id\'s heartbeat with the shared key: 200, pending',
      r[0] == 200 and r[2].get('state') == 'pending', r)
call('DELETE', '/api/workers/' + nid)

# A keyless replacement candidate (a version-1 agent presenting the name of
# an offline worker) enrolled with a token stays pending: only an admin's
# accept does the takeover.
x_name = pre + '-x'
x_id, _ = enroll_accepted(x_name, [group])
nid = str(uuid.uuid4())
r = beat(nid, WORKER_API_KEY, None, x_name)
check('a keyless candidate for an offline worker\'s name: pending',
      r[0] == 200 and r[2].get('state') == 'pending' and
      worker_by_id(nid)['replaces'] == x_id, (r, worker_by_id(nid)))
r = enroll_raw(x_name, [], token=make_token([group])[2]['token'],
               worker_id=nid)
row = worker_by_id(nid)
check('... enrolled with a token: still pending, still a candidate, '
      'no groups', r[0] == 201 and r[2].get('state') == 'pending' and
      row['state'] == 'pending' and row['replaces'] == x_id and
      row['groups'] == [] and worker_by_id(x_id)['state'] == 'accepted',
      (r, row))
call('DELETE', '/api/workers/' + nid)

# --- replacement candidate ---------------------------------------------------
t4 = make_token([group])[2]
r = enroll_raw(name_a, [group], token=t4['token'])
require('enrolling a new worker under A\'s name: 201', r[0] == 201, r)
cand_id, cand_key = r[2]['worker_id'], r[2]['key']
call_cleanup.append(cand_id)
check('it is a replacement candidate: pending, its own name, replaces A',
      r[2]['state'] == 'pending' and r[2]['name'] != name_a and
      worker_by_id(cand_id)['replaces'] == a_id, (r[2], worker_by_id(cand_id)))
check('A is untouched meanwhile', worker_by_id(a_id)['state'] == 'accepted'
      and worker_by_id(a_id)['name'] == name_a)
wc = WsWorker(name_a, [group], key=cand_key, worker_id=cand_id)
check('the candidate connects, pending', wc.state() == 'pending')
check('the candidate keeps its own name while pending',
      worker_by_id(cand_id)['name'] != name_a)
t0 = time.monotonic()
r = accept(cand_id)
check('accepting the candidate: 200, it takes the name, accepted',
      r[0] == 200 and r[2]['name'] == name_a and r[2]['state'] ==
      'accepted' and r[2]['replaces'] is None, r)
old = worker_by_id(a_id)
check('the worker it replaces is revoked and renamed "NAME (replaced '
      'ID8)"', old['state'] == 'revoked' and
      old['name'] == '%s (replaced %s)' % (name_a, a_id[:8]), old)
c = wa.closed(5)
check('... and its socket closed 1008 "worker revoked"',
      c is not None and c[0] == 1008 and 'revoked' in c[1], c)
check('the candidate is told it is accepted',
      (wc.next('worker_state', 5) or {}).get('state') == 'accepted')

# --- rotation ----------------------------------------------------------------
r_name = pre + '-rot'
r_id, k1 = enroll_accepted(r_name, [group])
wr = WsWorker(r_name, [], key=k1, worker_id=r_id)
wr.state()
r = call('POST', '/api/workers/%s/rotate' % r_id,
         headers={'Content-Type': 'application/json'})
check('POST /api/workers/:id/rotate: 200, rotation pending',
      r[0] == 200 and r[2].get('rotation') == 'pending', r)
m = wr.next('rotate_key', 5)
require('the worker is offered a new key over its socket', m is not None and
        len(m.get('key', '')) == 43 and m.get('key_id'), m)
k2 = m['key']
wr.send({'type': 'key_ack', 'key_id': m['key_id'], 'worker_id': r_id})
check('key_ack: the rotation is over',
      wait_for(lambda: worker_by_id(r_id)['rotation'] is None, 5))
x = WsWorker(r_name, [], key=k1, worker_id=r_id)
ok, c = closed_with(x, 'key refused')
check('the old key is dead after the ack', ok, c)
wr.close()
wr = WsWorker(r_name, [], key=k2, worker_id=r_id)
check('the new key works', wr.state() == 'accepted')
call('POST', '/api/workers/%s/rotate' % r_id,
     headers={'Content-Type': 'application/json'})
m = wr.next('rotate_key', 5)
require('a second rotation offers a key', m is not None, m)
k3 = m['key']
wr.close()
wr = WsWorker(r_name, [], key=k3, worker_id=r_id)
check('reconnecting with the offered key counts as the ack',
      wr.state() == 'accepted' and
      wait_for(lambda: worker_by_id(r_id)['rotation'] is None, 5))
x = WsWorker(r_name, [], key=k2, worker_id=r_id)
ok, c = closed_with(x, 'key refused')
check('... and the key before it is dead', ok, c)
wr.close()
time.sleep(0.5)
call('POST', '/api/workers/%s/rotate' % r_id,
     headers={'Content-Type': 'application/json'})
wr = WsWorker(r_name, [], key=k3, worker_id=r_id)
wr.state()
m = wr.next('rotate_key', 5)
check('a worker offline at rotate time gets the offer when it connects',
      m is not None and len(m.get('key', '')) == 43, m)
r = call('POST', '/api/workers/%s/rotate' % p_id,
         headers={'Content-Type': 'application/json'})
check('rotating a keyless (version-1) worker: 409', r[0] == 409, r)


def rotate(wid):
    return call('POST', '/api/workers/%s/rotate' % wid,
                headers={'Content-Type': 'application/json'})


def state_of(w):
    """Its worker_state, or how the socket was closed instead."""
    try:
        return w.state()
    except wsclient.Closed as e:
        return str(e)


def audit(target):
    r = call('GET', '/api/audit?target=%s&limit=100' % target)
    return r[2].get('entries', []) if isinstance(r[2], dict) else []


def live_keys(wid):
    return int(sql("SELECT COUNT(*) FROM worker_keys WHERE worker_id = '%s' "
                   "AND revoked_at IS NULL" % wid)[0][0])


# Two rotations before the ack (an admin's double click): the worker may
# have stored the first offer and lost its socket before the second came.
d_name = pre + '-dbl'
d_id, d0 = enroll_accepted(d_name, [group])
wd = WsWorker(d_name, [], key=d0, worker_id=d_id)
wd.state()
rotate(d_id)
m1 = wd.next('rotate_key', 5)
rotate(d_id)
m2 = wd.next('rotate_key', 5)
require('two rotations in a row: two offers', m1 is not None and
        m2 is not None and m1['key'] != m2['key'], (m1, m2))
wd.close()
wd = WsWorker(d_name, [], key=m1['key'], worker_id=d_id)
st = state_of(wd)
check('the first offered key still gets in after a second offer',
      st == 'accepted', st)
check('... as the ack: one live key, the rotation over',
      live_keys(d_id) == 1 and
      wait_for(lambda: worker_by_id(d_id)['rotation'] is None, 5),
      (live_keys(d_id), worker_by_id(d_id)))
for k in (d0, m2['key']):
    ok, c = closed_with(WsWorker(d_name, [], key=k, worker_id=d_id),
                        'key refused')
    check('... the old key and the second offer are dead', ok, c)
# Both offers arrive, acked in order: the first ack leaves the second
# offer (already on its way) live, so the worker ends on it.
wd.close()
wd = WsWorker(d_name, [], key=m1['key'], worker_id=d_id)
wd.state()
rotate(d_id)
m3 = wd.next('rotate_key', 5)
rotate(d_id)
m4 = wd.next('rotate_key', 5)
require('two more offers', m3 is not None and m4 is not None, (m3, m4))
wd.send({'type': 'key_ack', 'key_id': m3['key_id'], 'worker_id': d_id})
wd.send({'type': 'key_ack', 'key_id': m4['key_id'], 'worker_id': d_id})
check('acked in order: the worker ends on the second offer, its only key',
      wait_for(lambda: live_keys(d_id) == 1 and
               worker_by_id(d_id)['rotation'] is None, 5) and
      state_of(WsWorker(d_name, [], key=m4['key'], worker_id=d_id)) ==
      'accepted', live_keys(d_id))

# A rotation asked for while the worker is pending is offered at the
# accept, on the socket it has, not at its next connect.
q_name = pre + '-pend-rot'
q_id, q_key = enroll(q_name, [group])  # the shared key: pending
wq = WsWorker(q_name, [], key=q_key, worker_id=q_id)
check('a shared-key enrollment connects pending', wq.state() == 'pending')
r = rotate(q_id)
check('rotating a pending worker with a key: 200, pending',
      r[0] == 200 and r[2].get('rotation') == 'pending', r)
check('... no offer while it is pending', wq.next('rotate_key', 1) is None)
accept(q_id)
check('accepted: told so', (wq.next('worker_state', 5) or {}).get(
    'state') == 'accepted')
m = wq.next('rotate_key', 5)
check('... and offered the new key on the same socket',
      m is not None and len(m.get('key', '')) == 43, m)
wq.close()
wd.close()

# --- a version-1 worker enrolls with the shared key and its own id ---------
# Its id proves nothing (GET /api/workers lists it to every signed-in
# user), so it waits for an admin again, with the groups it was granted.
row = worker_by_id(p_id)
r = enroll_raw(p_name, [pgroup], worker_id=p_id)
check('a keyless accepted worker enrolls with its id: 201, pending, its '
      'granted groups kept', r[0] == 201 and
      r[2]['worker_id'] == p_id and r[2]['state'] == 'pending' and
      r[2]['groups'] == row['groups'] and r[2]['name'] == p_name, r)
p_key = r[2].get('key', '')
ok, c = closed_with(wp, 'reconnect with its own key')
check('its shared-key socket is closed (1008)', ok, c)
x = WsWorker(p_name, [], worker_id=p_id)
ok, c = closed_with(x, 'already enrolled')
check('the shared key can no longer act as it', ok, c)
wp = WsWorker(p_name, [], key=p_key, worker_id=p_id)
check('its own key can: pending', wp.state() == 'pending')
r = accept(p_id, row['groups'])
check('one admin accept: accepted, its groups as they were',
      r[0] == 200 and r[2]['state'] == 'accepted' and
      r[2]['groups'] == row['groups'], r)
check('... and it is told', (wp.next('worker_state', 5) or {}).get(
    'state') == 'accepted')
enr = [e for e in audit(p_id) if e['action'] == 'worker.enroll']
check('the enrollment is audited as into an existing worker',
      len(enr) >= 1 and enr[0]['details'].get('existing') is True and
      enr[0]['details'].get('state') == 'pending', enr)

# The hijack: a token holder names an accepted keyless worker's id.
v_name, vgroup = pre + '-v1', unique('vg')
wv = WsWorker(v_name, [vgroup])  # a version-1 agent: the shared key
wv.state()
v_id = wv.id
accept(v_id, [vgroup])
check('an accepted version-1 worker', (wv.next('worker_state', 5) or {}).get(
    'state') == 'accepted')
evil = make_token([unique('evil')])[2]
r = enroll_raw(pre + '-evil', [], token=evil['token'], worker_id=v_id)
check('a token enrollment naming its id: 201 but pending, the token\'s '
      'groups not granted', r[0] == 201 and r[2]['state'] == 'pending' and
      r[2]['groups'] == [vgroup], r)
v_key = r[2].get('key', '')
ok, c = closed_with(wv, 'reconnect with its own key')
check('the real version-1 agent\'s socket is closed', ok, c)
wh = WsWorker(v_name, [], key=v_key, worker_id=v_id)
check('the hijacker connects pending', wh.state() == 'pending')
r = command(v_id)
check('... and is sent no command (409 pending)', r[0] == 409 and
      'pending' in error_of(r[2]), r)
e = wait_execution(run([execute('g', 'echo hi', ['group:' + vgroup])],
                       prefix='trust')['id'])
check('... not even its group\'s (the step fails)',
      e['status'] == 'failed' and wh.next_command(1) is None, e['status'])
wh.close()
call('DELETE', '/api/workers/' + v_id)

# --- the audit trail ---------------------------------------------------------


def actions(target):
    return [e['action'] for e in audit(target)]


ea = audit(tok['id'])
check('token.create audited, without the token',
      [e['action'] for e in ea] == ['token.create'] and
      tok['token'] not in str(ea) and ea[0]['details'].get('uses') == 2, ea)
check('token.revoke audited', 'token.revoke' in actions(t3['id']))
ea = audit(a_id)
enr = [e for e in ea if e['action'] == 'worker.enroll']
check('worker.enroll audited, by the worker, via its token, no key',
      len(enr) == 1 and enr[0]['actor'] == 'worker:' + name_a and
      enr[0]['details'].get('token_id') == tok['id'] and
      a_key not in str(ea), enr)
ref = [e for e in ea if e['action'] == 'worker.key_refused']
# A's id was refused twice above (enrolling again, the shared key on its
# socket): one row, as a known worker's refusals are audited once in ten
# minutes (registry_refused).
check('refused keys audited as worker.key_refused with the reason, once',
      len(ref) == 1 and all(e['details'].get('reason') for e in ref) and
      WORKER_API_KEY not in str(ea), ref)
enr = [e for e in audit(l_id) if e['action'] == 'worker.enroll']
check('the retry is audited as one (retry: true), the first one not',
      len(enr) == 2 and enr[0]['details'].get('retry') is True and
      enr[0]['details'].get('token_id') == t_lost['id'] and
      'retry' not in enr[1]['details'], enr)
check('worker.revoke audited', 'worker.revoke' in actions(b_id))
check('worker.accept and worker.groups audited',
      'worker.accept' in actions(p_id) and 'worker.groups' in actions(p_id))
acc = [e for e in audit(p_id) if e['action'] == 'worker.accept']
check('worker.accept says what it granted (by default, what it asked for)',
      len(acc) == 2 and acc[-1]['details'].get('groups') == [pgroup], acc)
acc = [e for e in audit(cand_id) if e['action'] == 'worker.accept']
check('accepting a candidate names the worker it replaced',
      len(acc) == 1 and acc[0]['details'].get('replaced') == a_id, acc)
check('worker.rotate audited', actions(r_id).count('worker.rotate') >= 3)
r = call('GET', '/api/audit/verify')
check('the audit chain still holds', r[0] == 200 and r[2].get('ok') is True,
      r[2])

# --- nginx limits enrollment per address -------------------------------------
# Requests without any credential: 401 each, nothing written; past the
# burst (nginx/pulse-http.conf: 200, then 20 a second) nginx answers 429.
codes = []
t0 = time.monotonic()
for _ in range(400):
    codes.append(call('POST', '/api/workers/enroll', user=None,
                      body={'name': 'flood'})[0])
    if codes[-1] == 429:
        break
diag('enroll flood: %d requests in %.2f s, first 429 after %d' % (
    len(codes), time.monotonic() - t0, codes.index(429) if 429 in codes
    else -1))
check('a flood of enrollments from one address is cut off with 429',
      429 in codes and set(codes[:codes.index(429)]) == {401} and
      codes.index(429) >= 200, codes[-5:])
time.sleep(11)  # the bucket refills (20/s) for whatever runs next
check('after a pause it answers again', call(
    'POST', '/api/workers/enroll', user=None, body={'name': 'x'})[0] == 401)

for x in (wp, wr, wc):
    x.close()
for wid in call_cleanup + [p_id]:
    call('DELETE', '/api/workers/' + wid)
done()
