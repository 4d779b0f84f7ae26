#!/usr/bin/env python3
"""What a key the server refuses, or a name a keyed worker claims, may not do.

- Anyone can send a well-formed key and any worker id: 50 heartbeats, 50
  /worker sockets and 50 enrollments with random keys, tokens and ids
  write no audit row (the trail
  is never pruned, and every row locks its head). A known worker's refused
  key writes worker.key_refused at most once in ten minutes, with the name
  on record as the actor, however often it is retried, by either path.
  The legitimate flows still write theirs (worker.enroll).
- A worker with its own key keeps the name it enrolled with: a heartbeat or
  worker_connect under another name is answered as usual, the name in
  GET /api/workers does not change, and commands for the other name
  (name:X) do not reach it (SPEC section 12).
"""
import base64
import os
import uuid

from live import run, execute, wait_execution
from pulse_test import (WORKER_API_KEY, WsWorker, call, check, done,
                        enroll_accepted, enroll_raw, heartbeat, sql, unique,
                        wait_for, worker_by_id)


def random_key():
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')


def refused_rows(target=None):
    q = "SELECT COUNT(*) FROM audit_log WHERE action = 'worker.key_refused'"
    if target is not None:
        q += " AND target_id = '%s'" % target
    return int(sql(q)[0][0])


def audit(target):
    r = call('GET', '/api/audit?target=%s&limit=100' % target)
    return r[2].get('entries', []) if isinstance(r[2], dict) else []


def keyed_beat(wid, key, name):
    body = {'worker_id': wid, 'name': name, 'metadata': {}}
    return call('POST', '/api/workers/heartbeat', user=None, body=body,
                headers={'X-API-Key': key, 'X-Worker-Id': wid})


def socket_refused(key, wid, name):
    """A /worker socket with key and id; True once pushd refused it (401
    at the handshake or a close 1008 "key refused")."""
    try:
        w = WsWorker(name, key=key, worker_id=wid)
    except Exception as e:     # the handshake answered 401
        return getattr(e, 'status', None) == 401
    c = w.closed(5)
    w.close()
    return c is not None and c[0] == 1008 and 'key refused' in (c[1] or '')


# --- refusals by anyone: no audit row --------------------------------------

before = refused_rows()
codes = set()
for i in range(50):
    wid = str(uuid.uuid4())
    codes.add(keyed_beat(wid, random_key(), unique('flood'))[0])
check('50 heartbeats with random keys and ids: all 401', codes == {401},
      codes)
ok = all(socket_refused(random_key(), str(uuid.uuid4()), unique('flood'))
         for _ in range(50))
check('50 /worker sockets with random keys and ids: all refused', ok)
codes = {enroll_raw(unique('flood'), token=random_key(),
                   worker_id=str(uuid.uuid4()))[0] for _ in range(50)}
check('50 enrollments with random tokens and ids: all 401', codes == {401},
      codes)
check('... and none of the 150 wrote an audit row',
      refused_rows() == before, (before, refused_rows()))

# --- refusals for a known worker: one row per ten minutes ------------------

kname = unique('known')
kid, kkey = enroll_accepted(kname, ['abuse-g'])
codes = {keyed_beat(kid, random_key(), unique('other'))[0]
         for _ in range(5)}
check('a known worker\'s id with wrong keys: 401', codes == {401}, codes)
check('... sockets with wrong keys for its id: refused',
      all(socket_refused(random_key(), kid, unique('other'))
          for _ in range(3)))
r = call('POST', '/api/workers/heartbeat', user=None,
         body={'worker_id': kid, 'name': kname, 'metadata': {}},
         headers={'X-API-Key': WORKER_API_KEY})
check('... the shared key for its id: 401 (a stale version-1 agent)',
      r[0] == 401, r)
ref = [e for e in audit(kid) if e['action'] == 'worker.key_refused']
check('9 refusals of a known worker: one worker.key_refused row',
      len(ref) == 1 and refused_rows(kid) == 1, ref)
check('... by the name on record, not the one sent',
      len(ref) == 1 and ref[0]['actor'] == 'worker:' + kname and
      ref[0]['details'].get('name') == kname and
      ref[0]['details'].get('reason'), ref)
r = enroll_raw(unique('again'), worker_id=kid)
check('... enrolling again with its id: 401', r[0] == 401, r)
check('10 refusals by three paths: still one row', refused_rows(kid) == 1,
      refused_rows(kid))
r = keyed_beat(kid, kkey, kname)
check('its own key still works', r[0] == 200, r)

# --- the legitimate flows still audit ---------------------------------------

v1 = str(uuid.uuid4())
r = heartbeat(unique('v1'), worker_id=v1)
check('a new version-1 worker by heartbeat: 200', r[0] == 200, r)
check('... audited as worker.enroll',
      [e['action'] for e in audit(v1)] == ['worker.enroll'], audit(v1))
call('DELETE', '/api/workers/' + v1)
check('an enrollment by token audited as worker.enroll',
      [e['action'] for e in audit(kid)].count('worker.enroll') == 1,
      audit(kid))

# --- a keyed worker keeps its name ------------------------------------------

aname = unique('keeper')
victim = unique('victim')   # a name no worker holds (say, deleted)
aid, akey = enroll_accepted(aname, ['abuse-web'])
r = keyed_beat(aid, akey, victim)
check('a keyed heartbeat under another name: still 200', r[0] == 200, r)
w = worker_by_id(aid)
check('... its name does not change', w is not None and
      w.get('name') == aname, w)
a = WsWorker(victim, ['abuse-web'], key=akey, worker_id=aid)
check('a keyed worker_connect under another name: accepted',
      a.state() == 'accepted')
w = worker_by_id(aid)
check('... its name does not change', w is not None and
      w.get('name') == aname and w.get('status') == 'online', w)
r = call('GET', '/api/workers')
check('... and no worker is called %s' % victim,
      not [x for x in r[2] if x.get('name') == victim], r[2])
e = run([execute('s', 'echo hi', targets=['name:' + victim])],
        prefix='abuse')
check('a step for name:%s starts' % victim, e is not None, e)
cmd = a.next_command(3)
check('... and its command does not reach the worker that claimed the name',
      cmd is None, cmd)
if e is not None:
    call('POST', '/api/executions/%s/cancel' % e['id'],
         headers={'Content-Type': 'application/json'})
    wait_execution(e['id'], timeout=10)
e = run([execute('s', 'echo hi', targets=['name:' + aname])],
        prefix='abuse')
cmd = a.next_command(10)
check('a step for its own name does reach it', cmd is not None, cmd)
if cmd is not None:
    a.send(a.result(cmd, stdout='hi\n'))
    x = wait_execution(e['id'], timeout=20)
    check('... and completes', x is not None and
          x['status'] == 'completed', x)
a.close()
wait_for(lambda: (worker_by_id(aid) or {}).get('status') == 'offline', 10)

# A version-1 worker (the shared key, no key of its own) keeps version-1
# behaviour: its name is its identity, so a new name renames it.
v1 = str(uuid.uuid4())
n1, n2 = unique('v1a'), unique('v1b')
r1 = heartbeat(n1, worker_id=v1)
r2 = heartbeat(n2, worker_id=v1)
w = worker_by_id(v1)
check('a keyless worker still renames itself by heartbeat',
      r1[0] == 200 and r2[0] == 200 and w is not None and
      w.get('name') == n2, (r1, r2, w))
call('DELETE', '/api/workers/' + v1)
done()
