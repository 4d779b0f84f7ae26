#!/usr/bin/env python3
"""Names go into VARCHAR(255) columns of utf8mb4 tables, where MariaDB
counts characters: a limit of 255 is 255 characters (code points), not 255
bytes. A 200-character name of "é" (400 bytes) is taken, 255 characters of
a 4-byte emoji (1,020 bytes) too, 256 characters are refused with a 400
naming the field, and so is invalid UTF-8: for workflow, step and worker
names, worker groups, prompt options and their answers, through the REST
API and the worker socket."""

import uuid

import wsclient
from pulse_test import (WORKER_API_KEY, call, check, create_workflow, done,
                        error_of, find_worker, heartbeat, prompt_step,
                        require, start_execution, unique, wait_for)

E = '\u00e9'            # 2 bytes in UTF-8
SMILE = '\U0001F600'    # 4 bytes in UTF-8


def refused(descr, r, field, why='255 characters'):
    """A 400 whose JSON names the field and says why."""
    body = r[2] if isinstance(r[2], dict) else {}
    return check('%s -> 400 naming %s' % (descr, field),
                 r[0] == 400 and body.get('field') == field and
                 why in error_of(body), r)


def new_workflow(name, steps=None):
    return call('POST', '/api/workflows', body={
        'name': name, 'definition': {'steps': steps or [
            {'name': 'w', 'type': 'wait', 'duration': 0}]}})


# --- workflow names ---------------------------------------------------------

tag = uuid.uuid4().hex[:6]
for descr, name in (
        ('200 characters of e-acute (400 bytes)', tag + E * 194),
        ('255 characters of e-acute (510 bytes)', tag + E * 249),
        ('255 emoji (1,020 bytes)', tag + SMILE * 249)):
    r = new_workflow(name)
    ok = check('a workflow named with %s is created' % descr,
               r[0] == 201 and isinstance(r[2], dict) and
               r[2].get('name') == name, r)
    if ok:
        wid = r[2]['id']
        g = call('GET', '/api/workflows/' + wid)
        check('... and reads back unchanged', g[0] == 200 and
              g[2].get('name') == name, g)
        call('DELETE', '/api/workflows/' + wid)
refused('a workflow named with 256 characters of e-acute',
        new_workflow(E * 256), 'name')
refused('a workflow named with 256 ASCII characters',
        new_workflow('a' * 256), 'name')
refused('a workflow named with 1,021 bytes', new_workflow('a' * 1021),
        'name')
r = call('POST', '/api/workflows',
         raw=b'{"name":"bad\xff name","definition":{"steps":[]}}')
check('a workflow name of invalid UTF-8 -> 400 naming "name"',
      r[0] == 400 and '"name"' in error_of(r[2]) and
      'UTF-8' in error_of(r[2]), r)
r = call('PUT', '/api/workflows/' + str(uuid.uuid4()),
         body={'name': E * 256, 'definition': {'steps': []}})
refused('PUT a workflow named with 256 characters', r, 'name')

# --- step names, targets, options and the answer -----------------------------

long_step = 'Step ' + E * 250          # 255 characters
option = 'Yes ' + E * 251              # 255 characters, 506 bytes
wf = create_workflow('names', [
    prompt_step(long_step, options=(option, 'No')),
    {'name': 'Run ' + SMILE * 251, 'type': 'execute',
     'targets': ['grp-' + E * 251], 'command': 'true',
     'condition': "promptResponse === 'No'"}])
require('a workflow with 255-character step names, target and option',
        wf, 'see the diagnostics above')
r = new_workflow(unique('names'), [prompt_step(E * 256)])
check('a step name of 256 characters is refused naming the step and field',
      r[0] == 400 and r[2].get('field') == 'name' and
      r[2].get('step') == 0 and '255 characters' in error_of(r[2]), r)
r = new_workflow(unique('names'), [prompt_step('p', options=(E * 256,))])
check('an option of 256 characters is refused naming options',
      r[0] == 400 and r[2].get('field') == 'options' and
      '255 characters' in error_of(r[2]), r)

ex = start_execution(wf['id'])
require('an execution starts', ex)
eid = ex['id']
waiting = wait_for(lambda: call('GET', '/api/executions/' + eid)[2]
                   .get('status') == 'waiting', 30)
require('it waits on the prompt', waiting)
e = call('GET', '/api/executions/' + eid)[2]
check('the stored step name is the 255-character one',
      e['steps'][0]['name'] == long_step, e['steps'][0].get('name'))
r = call('POST', '/api/executions/%s/respond' % eid,
         body={'response': E * 256})
refused('an answer of 256 characters', r, 'response')
r = call('POST', '/api/executions/%s/respond' % eid,
         body={'response': option})
check('the 255-character option (506 bytes) is accepted as the answer',
      r[0] == 200, r)
done_ex = wait_for(lambda: (lambda x: x if x.get('status') in (
    'completed', 'failed') else None)(
        call('GET', '/api/executions/' + eid)[2]), 30)
check('and stored as the response', isinstance(done_ex, dict) and
      done_ex['steps'][0].get('response') == option and
      done_ex.get('prompt_response') == option,
      done_ex and done_ex['steps'][0])

# --- worker names and groups through the heartbeat -------------------------

wname = 'w-%s-' % tag + E * 190
r = heartbeat(wname, metadata={'groups': ['grp-' + E * 251]})
check('a heartbeat named with 200 characters of e-acute -> 200',
      r[0] == 200, r)
w = find_worker(wname)
check('the worker is listed under that name with its group',
      w is not None and 'grp-' + E * 251 in
      (w.get('metadata') or {}).get('groups', []), w)
refused('a heartbeat named with 256 characters', heartbeat(E * 256),
        'name')
refused('a heartbeat with a group of 256 characters',
        heartbeat('w-' + tag, metadata={'groups': [E * 256]}), 'metadata')
r = call('POST', '/api/workers/heartbeat', user=None,
         headers={'X-API-Key': WORKER_API_KEY},
         raw=('{"worker_id":"%s","name":"bad' % uuid.uuid4()).encode() +
         b'\xc1\xa9"}')
check('a heartbeat name of invalid UTF-8 -> 400 naming "name"',
      r[0] == 400 and '"name"' in error_of(r[2]) and
      'UTF-8' in error_of(r[2]), r)
if w is not None:
    call('DELETE', '/api/workers/' + w['id'])

# --- worker names and groups over the worker socket -------------------------


def connect(name, groups):
    ws = wsclient.connect('/worker', 'pulse-worker',
                          headers={'X-API-Key': WORKER_API_KEY})
    ws.send_json({'type': 'worker_connect', 'worker_id': str(uuid.uuid4()),
                  'worker_name': name, 'groups': groups,
                  'version': 'test', 'running': []})
    return ws


sname = 's-%s-' % tag + E * 190
ws = connect(sname, ['grp-' + E * 251])
online = wait_for(lambda: (lambda x: x if x and x.get('status') == 'online'
                           else None)(find_worker(sname)), 30)
check('worker_connect named with 200 characters of e-acute: online',
      online, find_worker(sname))
check('... its 255-character group kept as asked for (pending: none '
      'granted)', online and online.get('requested_groups') ==
      ['grp-' + E * 251] and online.get('groups') == [], online)
ws.close()
if online:
    call('DELETE', '/api/workers/' + online['id'])
ws = connect(E * 256, [])
closed = ws.wait_closed(10)
check('worker_connect named with 256 characters: closed (1008), saying '
      'why', closed is not None and closed[0] == 1008 and
      'worker_name' in closed[1] and '255 characters' in closed[1], closed)
ws = connect('s2-' + tag, [E * 256])
closed = ws.wait_closed(10)
check('worker_connect with a group of 256 characters: closed (1008)',
      closed is not None and closed[0] == 1008 and 'groups' in closed[1],
      closed)

done()
