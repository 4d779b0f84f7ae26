#!/usr/bin/env python3
"""Workers over HTTP: the heartbeat's API key, what GET /api/workers shows
(and never shows), deleting a worker (SPEC sections 3, 4 and 8); a new
worker with the shared key is pending and granted nothing (section 12)."""

import json
import uuid

from pulse_test import (WORKER_API_KEY, call, check, check_status, done,
                        error_of, find_worker, heartbeat, is_iso8601,
                        is_json_error, is_uuid, items, require, unique)

require('PULSE_WORKER_API_KEY is set', WORKER_API_KEY != '')

name = unique('itest-worker')
META = {'hostname': 'itest-host', 'os': 'Linux 6.1 x86_64',
        'version': 'pulse-worker test', 'cpu_usage': 12.5,
        'memory': {'total': 536870912, 'used': 268435456},
        'load_average': [0.1, 0.2, 0.3], 'uptime': 3600,
        'groups': ['web', 'itest']}

# --- the key ----------------------------------------------------------
r = call('POST', '/api/workers/heartbeat', user=None,
         body={'worker_id': str(uuid.uuid4()), 'name': name,
               'metadata': META})
check_status('heartbeat without X-API-Key', r, 401)
check('... JSON error', is_json_error(r), r[2])
for label, key in (('a wrong key', 'wrong-' + WORKER_API_KEY),
                   ('the key plus one byte', WORKER_API_KEY + 'x'),
                   ('the key minus its last byte', WORKER_API_KEY[:-1]),
                   ('an empty key', ''),
                   ('the key in another case', WORKER_API_KEY.swapcase()
                    if WORKER_API_KEY.swapcase() != WORKER_API_KEY
                    else WORKER_API_KEY + 'X')):
    check_status('heartbeat with %s' % label, heartbeat(name, key=key), 401)
r = call('POST', '/api/workers/heartbeat', user=None,
         body={'worker_id': str(uuid.uuid4()), 'name': name,
               'metadata': META},
         headers={'Authorization': 'Bearer ' + WORKER_API_KEY})
check_status('the key in Authorization instead of X-API-Key', r, 401)
check('no worker was created by refused heartbeats',
      find_worker(name) is None)

# --- a good heartbeat -------------------------------------------------
wid = str(uuid.uuid4())
r = heartbeat(name, metadata=META, worker_id=wid)
check_status('heartbeat with the right key', r, 200)
raw_text = json.dumps(r[2])
check('the heartbeat answer does not echo the key',
      WORKER_API_KEY not in raw_text, r[2])

r = call('GET', '/api/workers', user='employee')
check_status('GET /api/workers as employee', r, 200)
lst = items(r[2], 'workers')
require('GET /api/workers is a list', isinstance(lst, list), r[2])
w = next((x for x in lst if isinstance(x, dict) and x.get('name') == name),
         None)
require('the worker is listed', w is not None, [x.get('name') for x in lst])
check('it has id, name, status, last_heartbeat, metadata',
      all(k in w for k in ('id', 'name', 'status', 'last_heartbeat',
                           'metadata')), w)
check('its id is a UUID', is_uuid(w.get('id')), w)
check('it is online', w.get('status') == 'online', w)
check('last_heartbeat is ISO-8601', is_iso8601(w.get('last_heartbeat')), w)
md = w.get('metadata') if isinstance(w.get('metadata'), dict) else {}
check('metadata kept as sent',
      all(md.get(k) == v for k, v in META.items()), md)
check('a new shared-key worker is pending (SPEC section 12)',
      w.get('state') == 'pending' and w.get('has_key') is False, w)
check('the groups it sends are asked for, not granted',
      w.get('requested_groups') == ['web', 'itest'] and
      w.get('groups') == [], w)

body_text = json.dumps(r[2])
check('GET /api/workers never shows api_key',
      'api_key' not in body_text and 'apiKey' not in body_text, w)
check('GET /api/workers never shows the key itself',
      WORKER_API_KEY not in body_text)

# A second heartbeat updates the same worker.
META2 = dict(META, cpu_usage=99.0)
check_status('a second heartbeat', heartbeat(name, metadata=META2,
                                             worker_id=wid), 200)
same = [x for x in items(call('GET', '/api/workers')[2], 'workers') or []
        if x.get('name') == name]
check('still one worker of that name, with the new metrics',
      len(same) == 1 and (same[0].get('metadata') or {}).get('cpu_usage')
      == 99.0, same)

# --- bad heartbeats ---------------------------------------------------
r = call('POST', '/api/workers/heartbeat', user=None,
         body={'worker_id': str(uuid.uuid4()), 'metadata': {}},
         headers={'X-API-Key': WORKER_API_KEY})
check_status('heartbeat without name', r, 400)
check('... error names "name"', 'name' in error_of(r[2]), r[2])
r = call('POST', '/api/workers/heartbeat', user=None,
         body={'worker_id': str(uuid.uuid4()), 'name': 5, 'metadata': {}},
         headers={'X-API-Key': WORKER_API_KEY})
check_status('heartbeat with a numeric name', r, 400)
r = call('POST', '/api/workers/heartbeat', user=None, raw='{"name":',
         headers={'X-API-Key': WORKER_API_KEY})
check_status('heartbeat with bad JSON', r, 400)
r = call('POST', '/api/workers/heartbeat', user=None,
         body={'worker_id': str(uuid.uuid4()), 'name': unique('itest'),
               'metadata': 'not an object'},
         headers={'X-API-Key': WORKER_API_KEY})
check_status('heartbeat with metadata not an object', r, 400)

# --- deleting ---------------------------------------------------------
r = call('DELETE', '/api/workers/' + w['id'], user='employee')
check_status('DELETE /api/workers/:id as employee', r, 403)
r = call('DELETE', '/api/workers/' + w['id'], user='admin')
check_status('DELETE /api/workers/:id as admin', r, 200, 204)
check('it is gone', find_worker(name) is None)
r = call('DELETE', '/api/workers/' + w['id'], user='admin')
check_status('DELETE it again', r, 404)
check('... JSON error', is_json_error(r), r[2])
check_status('DELETE an unknown worker',
             call('DELETE', '/api/workers/%s' % uuid.uuid4()), 404)

done()
