#!/usr/bin/env python3
"""Direct commands (POST /api/workers/:id/command) are an admin's, to one
worker (issue 12):
  - the command runs on exactly that worker id, even when another worker
    declares a group named like it (workers choose their own groups);
  - an employee may not cancel it (403, nothing changes); an admin may.
"""

import seclib
from live import dispatches, online, wait_execution, wait_step
from pulse_test import call, check, done, require, unique

l1 = online('local-1', 60)
require('local-1 online', l1 is not None)

# A worker whose group is local-1's name.
shadow = seclib.FakeWorker(unique('dc-shadow'), groups=('local-1',))
require('a worker with the group "local-1" is online', shadow.online())
r = call('POST', '/api/workers/%s/command' % l1['id'],
         body={'command': 'echo direct'})
require('the admin sends local-1 a command (201)', r[0] == 201, r)
x = wait_execution(r[2]['id'], timeout=60)
names = [d['worker_name'] for d in dispatches(x, 0)]
check('it ran on local-1 only, not on the worker with its name as a group',
      x['status'] == 'completed' and names == ['local-1'], names)
stray = shadow.ws.recv_json(1)
check('the other worker was sent nothing',
      stray is None or stray.get('type') != 'execute_command', stray)
shadow.close()
shadow.delete()

# Who may stop it.
r = call('POST', '/api/workers/%s/command' % l1['id'],
         body={'command': 'sleep 120', 'timeout': 300000})
require('a long direct command starts', r[0] == 201, r)
eid = r[2]['id']
require('it runs', wait_step(eid, 0, ('running',), 60) is not None)
r = call('POST', '/api/executions/%s/cancel' % eid, user='employee', body={})
check('an employee cancelling it: 403, saying it is for admins',
      r[0] == 403 and 'admin' in str(r[2]), r)
x = call('GET', '/api/executions/' + eid)[2]
check('... and it still runs', x['status'] == 'running', x['status'])
r = call('POST', '/api/executions/%s/cancel' % eid, body={})
check('the admin cancels it (200)', r[0] == 200, r)
x = wait_execution(eid, timeout=60)
check('it ends cancelled', x['status'] == 'cancelled', x['status'])
done()
