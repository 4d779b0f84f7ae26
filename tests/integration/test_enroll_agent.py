#!/usr/bin/env python3
"""A real pulse-worker's own key, end to end (SPEC section 12, README
"Onboarding a worker: its own key").

Real agents started through `ctl worker-start` (with an enrollment token
this test made through the API) or directly (to see an exit status):
  - enrolled with a token: accepted with the token's groups, its key in
    WORKER_STATE_DIR/key (mode 0600), the row has_key; it runs a command,
    whose environment holds neither the token nor the key, and neither is
    in the agent's log;
  - restarted: it reconnects with the stored key (no new enrollment);
  - rotation under load: an admin rotates while a workflow of many short
    commands runs on it; every step completes, the rotation is acked, the
    key file changed, a heartbeat with the old key is refused (401), one
    with the new key is taken;
  - restarted after the rotation: it reconnects with the new key;
  - a rotated key it cannot store is not acked: the old key keeps
    working, and after a restart the offer comes again and is taken;
  - revoked: its log shows the refusal and it gets no command any more;
    restarted, it is refused again and neither enrolls again nor falls
    back to the shared key;
  - the shared key alone: enrolled pending (its log says it waits), runs
    commands once an admin accepts it;
  - a version-1 agent's state directory (an id, no key) enrolls under
    that id, pending until an admin accepts it again (its groups kept);
  - a used-up token: a second agent stops with exit status 78 and the
    server's reason in its log.
"""

import os
import re
import stat
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from live import execute, online, run, wait_execution  # noqa: E402
from pulse_test import (at_end, call, check, ctl, diag, done,  # noqa: E402
                        find_worker, require, unique, wait_for)

STACK = os.environ.get('PULSE_STACK', '')
BIN = os.environ.get('PULSE_BIN', '')
require('PULSE_STACK and PULSE_BIN are set', STACK != '' and BIN != '')

GROUP = unique('enr')
NAME = unique('enr-agent')
SDIR = os.path.join(STACK, 'workers', NAME)
KEYFILE = os.path.join(SDIR, 'key')
LOG = os.path.join(STACK, 'log', 'worker-%s.log' % NAME)
STEPS = 30      # short commands running through the rotation


def token(groups, uses=1):
    r = call('POST', '/api/enrollment-tokens',
             body={'groups': groups, 'uses': uses})
    check('POST /api/enrollment-tokens answers 201 with a token',
          r[0] == 201 and isinstance(r[2], dict) and
          len(r[2].get('token', '')) == 43, r[2])
    return r[2].get('token', '') if isinstance(r[2], dict) else ''


def read(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except OSError:
        return ''


def uuid_ok(s):
    try:
        return str(uuid.UUID(s)) == s
    except ValueError:
        return False


def heartbeat(wid, key):
    return call('POST', '/api/workers/heartbeat', user=None,
                body={'worker_id': wid, 'name': NAME, 'metadata': {}},
                headers={'X-API-Key': key, 'X-Worker-Id': wid})[0]


def one_command(label, cmd):
    """Run cmd on our worker (by its group); the step's dispatch."""
    e = run([execute(label, cmd, targets=(GROUP,), timeout=60000)],
            prefix='enr')
    if e is None:
        return None
    e = wait_execution(e['id'], timeout=60)
    ds = (e or {}).get('steps', [{}])[0].get('dispatches') or []
    diag('%s: %s %s' % (label, (e or {}).get('status'),
                        [(d.get('worker_name'), d.get('status'))
                         for d in ds]))
    return e


def stdout_of(e):
    ds = e['steps'][0].get('dispatches') or []
    return ds[0].get('stdout', '') if len(ds) == 1 else None


def stop():
    try:
        ctl('worker-stop', NAME)
    except Exception as ex:
        diag('worker-stop: %s' % ex)


at_end(lambda: call('DELETE', '/api/workers/%s' % (
    (find_worker(NAME) or {}).get('id', 'none'))))

# --- enrollment with a token ---------------------------------------------
tok = token([GROUP])
ctl('worker-start', NAME, GROUP, 'PULSE_ENROLL_TOKEN=' + tok)
w = online(NAME, 60)
require('the agent enrolled with its token is online', w is not None,
        read(LOG)[-2000:])
WID = w['id']
check('accepted with the token\'s groups, has_key',
      w.get('state') == 'accepted' and w.get('groups') == [GROUP] and
      w.get('has_key') is True, w)
st = os.stat(KEYFILE) if os.path.exists(KEYFILE) else None
check('its key is in WORKER_STATE_DIR/key, mode 0600',
      st is not None and stat.S_IMODE(st.st_mode) == 0o600)
KEY1 = read(KEYFILE).strip()
check('the key file holds a key (43 characters)', len(KEY1) == 43)
check('its id is stored beside it',
      read(os.path.join(SDIR, 'worker_id')).strip() == WID)

e = one_command('env', 'env')
out = stdout_of(e) if e else None
check('it runs a command with its own key', e is not None and
      e['status'] == 'completed' and out is not None and
      'PULSE_WORKER_NAME=' + NAME in out, e)
check('the command\'s environment has neither the token nor the key',
      out is not None and tok not in out and KEY1 not in out and
      'PULSE_ENROLL_TOKEN' not in out)
log = read(LOG)
check('the log says it enrolled', 'enrolled: worker id ' + WID in log)
check('neither the token nor the key is in the agent\'s log',
      tok not in log and KEY1 not in log)

# --- restart: the stored key ---------------------------------------------
stop()
mark = len(read(LOG))
ctl('worker-start', NAME, GROUP)
w = online(NAME, 60)
log = read(LOG)[mark:]
check('restarted, it is online again as the same worker',
      w is not None and w['id'] == WID)
check('... with its stored key, without enrolling again',
      'using this worker\'s own key' in log and 'enrolling' not in log,
      log[-1500:])
e = one_command('after-restart', 'echo again')
check('... and runs commands', e is not None and
      e['status'] == 'completed' and (stdout_of(e) or '').strip() == 'again')

# --- rotation under load -------------------------------------------------
mark = len(read(LOG))
steps = [execute('s%02d' % i, 'sleep 0.1; echo step-%d' % i,
                 targets=(GROUP,), timeout=60000) for i in range(STEPS)]
ex = run(steps, prefix='enr-rot')
require('the workflow of %d short commands started' % STEPS, ex is not None)


def steps_done():
    r = call('GET', '/api/executions/%s' % ex['id'])
    if r[0] != 200:
        return 0
    return sum(1 for s in r[2]['steps'] if s['status'] == 'succeeded')


check('a few steps ran before the rotation',
      wait_for(lambda: steps_done() >= 3 or None, 60, 0.05) is not None)
r = call('POST', '/api/workers/%s/rotate' % WID, body={})
check('POST /api/workers/:id/rotate answers 200', r[0] == 200, r[2])
rotated_at = steps_done()
diag('rotated after %d of %d steps' % (rotated_at, STEPS))
fin = wait_execution(ex['id'], timeout=120)
check('every step completed through the rotation (none lost)',
      fin is not None and fin['status'] == 'completed' and
      all(s['status'] == 'succeeded' for s in fin['steps']),
      [(s['name'], s['status']) for s in (fin or {}).get('steps', [])])
check('the rotation happened while commands ran', rotated_at < STEPS,
      rotated_at)
w = wait_for(lambda: (lambda x: x if x and x.get('rotation') is None
                      else None)(find_worker(NAME)), 30, 0.2)
check('the rotation is acked (rotation: null)', w is not None,
      find_worker(NAME))
KEY2 = read(KEYFILE).strip()
st = os.stat(KEYFILE)
check('the key file holds a new key, still mode 0600',
      len(KEY2) == 43 and KEY2 != KEY1 and
      stat.S_IMODE(st.st_mode) == 0o600)
log = read(LOG)[mark:]
check('the log says the key was rotated, without either key',
      'rotate_key' in log and 'acknowledged' in log and
      KEY1 not in log and KEY2 not in log, log[-1500:])
check('a heartbeat with the old key is refused (401)',
      heartbeat(WID, KEY1) == 401)
check('a heartbeat with the new key is taken', heartbeat(WID, KEY2) == 200)
w = online(NAME, 30)
check('the worker stays online on its new key',
      w is not None and w['id'] == WID)

# --- restart after the rotation ------------------------------------------
stop()
ctl('worker-start', NAME, GROUP)
w = online(NAME, 60)
check('restarted after the rotation, it reconnects',
      w is not None and w['id'] == WID)
e = one_command('after-rotation', 'echo rotated')
check('... and runs commands', e is not None and
      e['status'] == 'completed' and
      (stdout_of(e) or '').strip() == 'rotated')

# --- a new key that cannot be stored is not acked ------------------------
# key.tmp as a directory: the agent cannot write the new key (even as root).
os.mkdir(os.path.join(SDIR, 'key.tmp'))
mark = len(read(LOG))
r = call('POST', '/api/workers/%s/rotate' % WID, body={})
check('a second rotation is offered', r[0] == 200, r[2])
seen = wait_for(lambda: 'cannot be stored' in read(LOG)[mark:] or None,
                30, 0.1)
check('the agent cannot store the new key, says so, does not ack it',
      seen is not None and 'not acknowledged' in read(LOG)[mark:],
      read(LOG)[mark:][-1500:])
w = find_worker(NAME)
check('... so the rotation stays pending',
      w is not None and w.get('rotation') == 'pending', w)
check('... the key file is unchanged', read(KEYFILE).strip() == KEY2)
check('... and the current key still works: a heartbeat',
      heartbeat(WID, KEY2) == 200)
e = one_command('unstored', 'echo still')
check('... and a command', e is not None and e['status'] == 'completed' and
      (stdout_of(e) or '').strip() == 'still')
os.rmdir(os.path.join(SDIR, 'key.tmp'))
stop()
ctl('worker-start', NAME, GROUP)
w = wait_for(lambda: (lambda x: x if x and x.get('rotation') is None and
                      x.get('status') == 'online' else None)(
                          find_worker(NAME)), 60, 0.2)
KEY3 = read(KEYFILE).strip()
check('restarted, it is offered the new key again, stores and acks it',
      w is not None and len(KEY3) == 43 and KEY3 not in (KEY1, KEY2),
      find_worker(NAME))
check('... and the key it replaced is refused', heartbeat(WID, KEY2) == 401)

# --- revoke --------------------------------------------------------------
mark = len(read(LOG))
r = call('POST', '/api/workers/%s/revoke' % WID, body={})
check('POST /api/workers/:id/revoke answers 200 (revoked)',
      r[0] == 200 and isinstance(r[2], dict) and
      r[2].get('state') == 'revoked', r[2])
t0 = time.monotonic()
seen = wait_for(lambda: ('revoked' in read(LOG)[mark:] and
                         'an admin must act' in read(LOG)[mark:]) or None,
                15, 0.05)
check('the agent logs the refusal', seen is not None, read(LOG)[mark:])
diag('refusal logged %.2f s after the revoke' % (time.monotonic() - t0))
e = run([execute('after-revoke', 'echo nope', targets=(GROUP,),
                 timeout=10000)], prefix='enr')
fin = wait_execution(e['id'], timeout=60) if e else None
ds = (fin or {}).get('steps', [{}])[0].get('dispatches') or []
check('a revoked worker gets nothing: the step finds no worker',
      fin is not None and fin['status'] == 'failed' and ds == [],
      fin)
time.sleep(1)
log = read(LOG)[mark:]
check('... and its log shows no command after the revoke',
      'started (pid' not in log, log[-1500:])
stop()

# Restarted while revoked: refused again, and it neither enrolls again nor
# tries another key (its environment has the shared key to tempt it).
mark = len(read(LOG))
ctl('worker-start', NAME, GROUP,
    'WORKER_API_KEY=' + os.environ.get('PULSE_WORKER_API_KEY', ''))
seen = wait_for(lambda: 'an admin must act' in read(LOG)[mark:] or None,
                30, 0.1)
log = read(LOG)[mark:]
check('restarted while revoked, it is refused and says so',
      seen is not None, log[-1500:])
check('... without enrolling again or falling back to the shared key',
      'using this worker\'s own key' in log and 'enroll' not in log and
      read(KEYFILE).strip() == KEY3, log[-1500:])
w = find_worker(NAME)
check('... and stays revoked, not online',
      w is not None and w.get('state') == 'revoked' and
      w.get('status') != 'online', w)
stop()

# --- the shared key: pending until an admin accepts ----------------------
SH = unique('enr-shared')
SHLOG = os.path.join(STACK, 'log', 'worker-%s.log' % SH)
ctl('worker-start', SH, GROUP,
    'WORKER_API_KEY=' + os.environ.get('PULSE_WORKER_API_KEY', ''))
w = wait_for(lambda: (lambda x: x if x and x.get('has_key') else None)(
    find_worker(SH)), 60, 0.2)
at_end(lambda: call('DELETE', '/api/workers/%s' % (
    (find_worker(SH) or {}).get('id', 'none'))))
check('an agent with only the shared key enrolls pending, asking for its '
      'groups', w is not None and w.get('state') == 'pending' and
      w.get('requested_groups') == [GROUP] and w.get('groups') == [], w)
check('... and its log says it waits for an admin',
      wait_for(lambda: 'pending: waiting for an admin to accept this '
               'worker' in read(SHLOG) or None, 30, 0.2) is not None,
      read(SHLOG)[-1500:])
st = os.stat(os.path.join(STACK, 'workers', SH, 'key')) if w else None
check('... with its own key stored (mode 0600)',
      st is not None and stat.S_IMODE(st.st_mode) == 0o600)
r = call('POST', '/api/workers/%s/accept' % (w or {}).get('id'), body={})
check('an admin accepts it', r[0] == 200, r[2])
check('... and its log says so (worker_state)', wait_for(
    lambda: re.search(r'\]: accepted$', read(SHLOG).split(
        'waiting for an admin')[-1], re.M) or None, 30, 0.2) is not None,
    read(SHLOG)[-1500:])
e = run([execute('shared', 'echo accepted', targets=(SH,), timeout=60000)],
        prefix='enr')
e = e and wait_execution(e['id'], timeout=60)
check('... then it runs commands on its own key',
      e is not None and e['status'] == 'completed' and
      (stdout_of(e) or '').strip() == 'accepted', e)
ctl('worker-stop', SH)

# --- a version-1 agent's state directory: it keeps its id ----------------
V1 = unique('enr-v1')
V1ID = str(uuid.uuid4())
r = call('POST', '/api/workers/heartbeat', user=None,
                        body={'worker_id': V1ID, 'name': V1, 'metadata': {}},
                        headers={'X-API-Key': os.environ.get(
                            'PULSE_WORKER_API_KEY', '')})
check('a version-1 worker (shared key, no key of its own) is known',
      r[0] == 200 and (find_worker(V1) or {}).get('has_key') is False, r)
at_end(lambda: call('DELETE', '/api/workers/%s' % V1ID))
r = call('POST', '/api/workers/%s/accept' % V1ID, body={'groups': [GROUP]})
check('... and accepted by an admin', r[0] == 200 and
      r[2].get('state') == 'accepted', r[2])
os.makedirs(os.path.join(STACK, 'workers', V1), exist_ok=True)
with open(os.path.join(STACK, 'workers', V1, 'worker_id'), 'w') as f:
    f.write(V1ID + '\n')
ctl('worker-start', V1, GROUP)
w = online(V1, 60)
check('upgraded to this agent with a token, it enrolls under its own id, '
      'pending again (an existing id proves nothing), its groups kept',
      w is not None and w['id'] == V1ID and w.get('has_key') is True and
      w.get('state') == 'pending' and w.get('groups') == [GROUP], w)
check('... having sent that id', 'as worker ' + V1ID in read(
    os.path.join(STACK, 'log', 'worker-%s.log' % V1)))
r = call('POST', '/api/workers/%s/accept' % V1ID, body={})
check('one admin accept, and it is accepted on its own key',
      r[0] == 200 and r[2].get('state') == 'accepted' and
      r[2].get('groups') == [GROUP], r[2])
e = run([execute('v1', 'echo upgraded', targets=(V1,), timeout=60000)],
        prefix='enr')
e = e and wait_execution(e['id'], timeout=60)
check('... and runs commands', e is not None and e['status'] ==
      'completed' and (stdout_of(e) or '').strip() == 'upgraded', e)
ctl('worker-stop', V1)

# --- a used-up token -----------------------------------------------------
tmp = tempfile.mkdtemp(prefix='pulse-enroll-used.')
env = {'PATH': '/usr/bin:/bin', 'PULSE_ENV_FILE': '',
       'PULSE_SERVER': os.environ['PULSE_URL'],
       'WORKER_NAME': unique('enr-used'), 'WORKER_GROUPS': GROUP,
       'WORKER_STATE_DIR': os.path.join(tmp, 'state'),
       'PULSE_ENROLL_TOKEN': tok}
for k in ('ASAN_OPTIONS', 'UBSAN_OPTIONS'):
    if k in os.environ:
        env[k] = os.environ[k]
logpath = os.path.join(tmp, 'agent.log')
with open(logpath, 'wb') as f:
    p = subprocess.Popen([os.path.join(BIN, 'pulse-worker')], env=env,
                         stdin=subprocess.DEVNULL, stdout=f,
                         stderr=subprocess.STDOUT)
try:
    rc = p.wait(60)
except subprocess.TimeoutExpired:
    p.kill()
    rc = p.wait()
ulog = read(logpath)
check('an agent with a used-up token stops with exit status 78', rc == 78,
      (rc, ulog[-1500:]))
r = call('POST', '/api/workers/enroll', user=None,
         body={'name': unique('enr-probe'), 'groups': [], 'version': 'x',
               'token': tok})
reason = r[2].get('error', '') if isinstance(r[2], dict) else ''
check('the server refuses that token (401) with a reason',
      r[0] == 401 and reason != '', r)
check('... and the agent\'s log has that reason',
      'enrollment refused' in ulog and 'HTTP 401' in ulog and
      reason != '' and reason in ulog, ulog[-1500:])
check('... and the token is not in its log', tok not in ulog)
check('... and no key file was written',
      not os.path.exists(os.path.join(tmp, 'state', 'key')))
check('... but its id was stored before it asked (a lost answer is asked '
      'again under the same id)', uuid_ok(read(os.path.join(
          tmp, 'state', 'worker_id')).strip()), read(os.path.join(
              tmp, 'state', 'worker_id')))
check('no sanitizer report in the agents\' logs',
      'Sanitizer' not in read(LOG) and 'Sanitizer' not in ulog)
done()
