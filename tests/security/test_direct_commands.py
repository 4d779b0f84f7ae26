#!/usr/bin/env python3
"""Direct commands (POST /api/workers/:id/command) are an admin's, to one
worker, and a target says which it means (issue 12):
  - the command runs on exactly that worker id, even when another worker
    declares a group named like it (workers choose their own groups);
  - a plain workflow target that is both a worker name and another
    worker's group is refused at save (400 naming the step) and fails a
    step that meets it at run time; `name:X` and `group:X` say which;
  - an employee may not cancel a direct command (403); an admin may.
"""

import seclib
from live import dispatches, execute, online, run, wait_execution, wait_step
from pulse_test import call, check, create_workflow, done, require, unique

l1 = online('local-1', 60)
require('local-1 online', l1 is not None)
plain = create_workflow('dc-plain', [execute('Where', 'hostname',
                                             ['local-1'])])
require('a workflow targeting "local-1" saves while that is only a name',
        plain is not None)

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

# A plain target that is now both a name and a group.
r = call('POST', '/api/workflows', body={
    'name': unique('dc-ambiguous'), 'definition': {'steps': [
        {'name': 'Hello', 'type': 'wait', 'duration': 1},
        execute('Where', 'hostname', ['local-1'])]}})
check('saving a plain target that is both: 400 naming step 1 and the way '
      'out', r[0] == 400 and r[2].get('step') == 1 and
      r[2].get('field') == 'targets' and 'name:local-1' in r[2]['error'],
      r)
# ... inside a parallel group, and as an on_failure step (SPEC section 14).
r = call('POST', '/api/workflows', body={
    'name': unique('dc-ambiguous'), 'definition': {'steps': [
        {'name': 'Hello', 'type': 'wait', 'duration': 1},
        {'name': 'Both', 'type': 'parallel', 'steps': [
            {'name': 'Wait', 'type': 'wait', 'duration': 1},
            execute('Where', 'hostname', ['local-1'])]}]}})
check('... in a parallel group: 400 naming the group and steps[1].targets',
      r[0] == 400 and r[2].get('step') == 1 and
      r[2].get('field') == 'steps[1].targets' and
      'name:local-1' in r[2]['error'], r)
r = call('POST', '/api/workflows', body={
    'name': unique('dc-ambiguous'), 'definition': {
        'steps': [{'name': 'Hello', 'type': 'wait', 'duration': 1}],
        'on_failure': [execute('Where', 'hostname', ['local-1'])]}})
check('... as an on_failure step: 400 naming on_failure[0].targets',
      r[0] == 400 and r[2].get('step') == 0 and
      r[2].get('field') == 'on_failure[0].targets' and
      r[2]['error'].startswith('on_failure step 0: '), r)
r = call('POST', '/api/executions', body={'workflow_id': plain['id']})
x = wait_execution(r[2]['id'], timeout=60) if r[0] == 201 else None
check('a workflow saved before: its step fails, saying why, and runs '
      'nowhere', x is not None and x['status'] == 'failed' and
      'both a worker name and a group name' in (x.get('error') or '') and
      not dispatches(x, 0), x and x.get('error'))
e = run([execute('Where', 'hostname', ['name:local-1'])], prefix='dc-name')
x = wait_execution(e['id'], timeout=60)
check('name:local-1 runs on the worker named so only',
      x['status'] == 'completed' and
      [d['worker_name'] for d in dispatches(x, 0)] == ['local-1'],
      [d['worker_name'] for d in dispatches(x, 0)])
e = run([execute('Where', 'hostname', ['group:local-1'])], prefix='dc-group')
cmd = shadow.next_command(30)
check('group:local-1 goes to the worker in that group',
      cmd is not None and cmd.get('execution_id') == e['id'], cmd)
if cmd is not None:
    shadow.ws.send_json(shadow.result(cmd, stdout='shadow\n'))
x = wait_execution(e['id'], timeout=60)
check('... and to it only', x['status'] == 'completed' and
      [d['worker_name'] for d in dispatches(x, 0)] == [shadow.name],
      [d['worker_name'] for d in dispatches(x, 0)])
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
