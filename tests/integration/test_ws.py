#!/usr/bin/env python3
"""The websocket endpoints through nginx:
- a browser receives the seed's broadcasts, in order, with their fields;
  one that reconnects catches up from the last event id it saw;
- /ws refuses a missing login, the outsider, a foreign or null Origin, a
  missing subprotocol; a spoofed Remote-User does not change who you are;
- /worker refuses a missing or wrong key before the upgrade, and closes a
  worker that reports on a command that is not its own or sends garbage."""

import uuid

import wsclient
from live import online, run, execute, wait_execution
from pulse_test import (URL, accept_if_pending, call, check, create_workflow,
                        done, origin, prompt_step, require, WORKER_API_KEY)

ORIGIN = origin()


def browser(user=('employee', 'employee'), headers=None, sub='pulse-browser'):
    h = {'Origin': ORIGIN}
    h.update(headers or {})
    return wsclient.connect('/ws', sub, headers=h, auth=user)


def refused(fn):
    try:
        ws = fn()
    except wsclient.HandshakeRefused as e:
        return e.status
    except (OSError, wsclient.WSError):
        return 'error'
    # Accepted by the handshake: it must then be closed at once.
    r = ws.wait_closed(3)
    return 'closed' if r is not None else None


# --- a browser sees the seed's broadcasts in order -----------------------
ws = browser()
hello = ws.recv_json(5)
require('hello first', hello is not None and hello.get('type') == 'hello',
        hello)
check('hello names the user', hello.get('user') in ('employee',
      {'username': 'employee'}) or 'employee' in str(hello.get('user')),
      hello)
check('hello has a last_event_id', isinstance(hello.get('last_event_id'),
      int), hello)

wf = create_workflow('ws', [prompt_step('Ask', 'Go on?', ('Yes', 'No'))])
r = call('POST', '/api/executions', body={'workflow_id': wf['id']})
eid = r[2]['id']
call('POST', '/api/executions/%s/respond' % eid, body={'response': 'Yes'})


def mine(m):
    return m.get('workflow_id') == wf['id'] or m.get('execution_id') == eid


_, seen = ws.recv_until(lambda m: m.get('type') == 'execution_status' and
                        m.get('execution_id') == eid and
                        m.get('status') == 'completed', 10)
seq = [m['type'] for m in seen if mine(m) and m['type'] in (
    'workflow_created', 'execution_started', 'execution_prompt',
    'execution_status')]
check('broadcasts in order', seq[:3] == ['workflow_created',
      'execution_started', 'execution_prompt'] and
      seq[-1] == 'execution_status', seq)
ids = [m.get('event_id') for m in seen if 'event_id' in m]
check('event ids increase', ids == sorted(ids) and len(ids) == len(set(ids)),
      ids)
byt = {m['type']: m for m in seen if mine(m)}
check('workflow_created has workflow_id',
      byt.get('workflow_created', {}).get('workflow_id') == wf['id'])
check('execution_started has execution_id and workflow_id',
      byt.get('execution_started', {}).get('execution_id') == eid and
      byt['execution_started'].get('workflow_id') == wf['id'])
p = byt.get('execution_prompt', {}).get('prompt', {})
check('execution_prompt has message, options, step',
      p.get('message') == 'Go on?' and p.get('options') == ['Yes', 'No'] and
      p.get('step') == 0, p)
last_id = ids[-1] if ids else 0
ws.close()

# --- reconnect and catch up ----------------------------------------------
r = call('POST', '/api/executions', body={'workflow_id': wf['id']})
eid2 = r[2]['id']
ws = browser()
ws.recv_json(5)
ws.send_json({'type': 'resume', 'last_event_id': last_id})
m, seen = ws.recv_until(lambda m: m.get('execution_id') == eid2 and
                        m.get('type') == 'execution_prompt', 10)
check('a reconnecting browser catches up on what it missed', m is not None,
      seen[-5:])
got = [x.get('event_id') for x in seen if 'event_id' in x]
check('nothing replayed twice, nothing before last_event_id',
      len(got) == len(set(got)) and all(i > last_id for i in got), got)
ws.close()

# --- worker_update -------------------------------------------------------
require('local-1 online', online('local-1') is not None)
# The stack's agent uses the shared key: pending unless accepted.
accept_if_pending('local-1')

# --- /ws refusals ----------------------------------------------------------
check('no login: refused', refused(lambda: browser(user=None)) == 401)
check('outsider: refused', refused(lambda: browser(
      user=('outsider', 'outsider'))) in (401, 403, 'closed'))
check('foreign Origin: refused', refused(lambda: browser(
      headers={'Origin': 'http://evil.example'})) in (403, 'closed'))
check('null Origin: refused', refused(lambda: browser(
      headers={'Origin': 'null'})) in (403, 'closed'))
check('no subprotocol: refused', refused(lambda: browser(sub=None)) in
      (400, 403, 'closed'))
ws = browser(headers={'Remote-User': 'admin', 'Remote-Groups': 'admin'})
hello = ws.recv_json(5)
check('spoofed Remote-User does not change who you are',
      'employee' in str(hello.get('user')) and 'admin' not in
      str(hello.get('user')), hello)
ws.close()

# --- /worker refusals ------------------------------------------------------


def worker(key, sub='pulse-worker'):
    h = {} if key is None else {'X-API-Key': key}
    return wsclient.connect('/worker', sub, headers=h)


check('worker without a key: refused before the upgrade',
      refused(lambda: worker(None)) == 401)
check('worker with a wrong key: refused before the upgrade',
      refused(lambda: worker(WORKER_API_KEY + 'x')) == 401)
check('worker without the subprotocol: refused',
      refused(lambda: worker(WORKER_API_KEY, None)) in (400, 403, 'closed'))

# A fake worker that reports on local-1's command is thrown out, and the
# command's real result still lands.
ledger_cmd = 'sleep 1; echo real'
e = run([execute('real', ledger_cmd, ['local-1'])])
require('command for local-1 started', e is not None)
cmd_id = None
for _ in range(50):
    x = call('GET', '/api/executions/%s' % e['id'])[2]
    ds = x['steps'][0].get('dispatches') or []
    if ds:
        cmd_id = ds[0]['id']
        break
require('dispatch id known', cmd_id is not None)
fake_id = str(uuid.uuid4())
w = worker(WORKER_API_KEY)
w.send_json({'type': 'worker_connect', 'worker_id': fake_id,
             'worker_name': 'fake-' + fake_id[:8], 'groups': [],
             'version': 'test', 'running': []})
w.send_json({'type': 'command_result', 'command_id': cmd_id,
             'execution_id': e['id'], 'worker_id': fake_id, 'success': True,
             'exit_code': 0, 'signal': None, 'timed_out': False,
             'stdout': 'forged\n', 'stderr': '', 'stdout_bytes': 7,
             'stderr_bytes': 0, 'stdout_truncated': False,
             'stderr_truncated': False, 'duration': 1, 'timestamp': 'x'})
check('a worker reporting another worker\'s command is closed (1008)',
      (w.wait_closed(5) or (None,))[0] == 1008)
e = wait_execution(e['id'])
d = e['steps'][0]['dispatches'][0]
check('the forged result was not stored', d['stdout'] == 'real\n', d)

w = worker(WORKER_API_KEY)
w.send_json({'type': 'no_such_type'})
check('unknown message type: closed (1008)',
      (w.wait_closed(5) or (None,))[0] == 1008)
w = worker(WORKER_API_KEY)
w.send_text('{not json')
check('malformed JSON: closed (1008)',
      (w.wait_closed(5) or (None,))[0] == 1008)
check('pushd still serves others', online('local-1') is not None and
      call('GET', '/health', user=None)[0] == 200)
done()
