#!/usr/bin/env python3
"""One user cannot fill every worker's queue (issue 12, item 12): at most
PULSE_USER_EXECUTIONS_MAX (50 on the test stack, the default) running
executions per user. The next start is 429 with Retry-After and a message
naming the setting; one waiting on a prompt does not count; other users
are not held back; once one ends, a start fits again. The executions run
a long wait step, so the test fills the cap without running a command.
"""

import time

import seclib  # noqa: F401 (puts tests/integration on the path)

from pulse_test import (call, check, create_workflow, done, prompt_step,
                        require)

CAP = 50
wf = create_workflow('cap', [{'name': 'Nap', 'type': 'wait',
                              'duration': 3600000}])
require('a workflow that runs for an hour without a worker', wf is not None)
ask = create_workflow('cap-ask', [prompt_step('Hold', options=('Go',))])
require('and one that waits on a prompt', ask is not None)


def start(user, workflow=None):
    """POST /api/executions, waiting out nginx's rate limit (429 without
    our message) so that only the cap can refuse."""
    deadline = time.monotonic() + 120
    while True:
        r = call('POST', '/api/executions', user=user,
                 body={'workflow_id': (workflow or wf)['id']})
        if r[0] != 429 or 'PULSE_USER_EXECUTIONS_MAX' in str(r[2]) or \
                time.monotonic() > deadline:
            return r
        time.sleep(0.2)


mine = [x['id'] for x in call('GET', '/api/executions?limit=200',
                              user='employee')[2]
        if x['started_by'] == 'employee' and x['status'] == 'running']
ids = []
for _ in range(CAP - len(mine)):
    r = start('employee')
    if r[0] != 201:
        break
    ids.append(r[2]['id'])
require('the employee reaches %d running executions' % CAP,
        len(mine) + len(ids) == CAP, (len(mine), len(ids)))
r = start('employee')
check('the next start: 429, naming the setting, with Retry-After',
      r[0] == 429 and 'PULSE_USER_EXECUTIONS_MAX' in str(r[2]) and
      r[1].get('Retry-After') is not None, r[:1] + r[2:])
r = start('employee', ask)
check('one that would wait on a prompt is capped too (it starts running)',
      r[0] == 429, r[:1] + r[2:])
r = start('admin')
check('the admin is not held back by the employee (201)', r[0] == 201, r)
if r[0] == 201:
    call('POST', '/api/executions/%s/cancel' % r[2]['id'], body={})
r = call('POST', '/api/executions/%s/cancel' % ids[0], user='employee',
         body={})
require('the employee cancels one', r[0] == 200, r)
r = start('employee')
check('then a start fits again (201)', r[0] == 201, r)
if r[0] == 201:
    ids.append(r[2]['id'])
for eid in ids[1:]:
    call('POST', '/api/executions/%s/cancel' % eid, user='employee', body={})
done()
