#!/usr/bin/env python3
"""GET /api/executions/:id has the seed's `logs` field (SPEC section 4:
"one execution with its logs"), which the Node.js PULSE's scripts read:
while the execution runs, the steps assembled as they are now; once it has
ended, exactly what was frozen into executions.logs; and for a row the
Node.js PULSE wrote (no steps of ours), the log it stored."""

import json
import uuid

from pulse_test import (call, check, check_status, create_workflow, done,
                        have_ctl, prompt_step, require, sql, start_execution,
                        wait_for)

require('PULSE_CTL is set (the test reads and writes executions rows)',
        have_ctl())


def get(eid):
    r = call('GET', '/api/executions/' + eid, user='employee')
    return r[2] if r[0] == 200 and isinstance(r[2], dict) else {}


wf = create_workflow('logs', [
    prompt_step('Ask', options=('Yes', 'No')),
    {'name': 'Pause', 'type': 'wait', 'duration': 0}])
require('a prompt-then-wait workflow is created', wf)
ex = start_execution(wf['id'])
require('an execution of it starts', ex)
eid = ex['id']

e = wait_for(lambda: (lambda x: x if x.get('status') == 'waiting' else None)
             (get(eid)), 30)
require('the execution waits on its prompt', e, get(eid))
check('a waiting execution has "logs"', 'logs' in e, sorted(e))
check('while it runs, logs is its steps as they are now (2 steps, the '
      'prompt waiting)', e.get('logs') == e.get('steps') and
      isinstance(e.get('logs'), list) and len(e['logs']) == 2 and
      e['logs'][0].get('status') == 'waiting', e.get('logs'))

r = call('POST', '/api/executions/%s/respond' % eid, user='employee',
         body={'response': 'Yes'})
check_status('answer the prompt', r, 200)
e = wait_for(lambda: (lambda x: x if x.get('status') == 'completed'
                      else None)(get(eid)), 30)
require('the execution completes', e, get(eid))
rows = sql("SELECT logs FROM executions WHERE id = '%s'" % eid)
stored = json.loads(rows[0][0]) if rows and rows[0][0] != 'NULL' else None
check('the ended execution\'s executions.logs column holds its log',
      isinstance(stored, list) and len(stored) == 2, rows)
check('an ended execution\'s logs is what executions.logs holds',
      'logs' in e and e['logs'] == stored,
      {'api': e.get('logs'), 'column': stored})
check('and records the answer (step 0 succeeded with "Yes")',
      isinstance(e.get('logs'), list) and e['logs'] and
      e['logs'][0].get('response') == 'Yes' and
      e['logs'][0].get('status') == 'succeeded', e.get('logs'))

# A row as the Node.js PULSE left it: its own log, no execution_steps.
seed_id = str(uuid.uuid4())
seed_log = [{'step': 'Check disk space', 'type': 'execute',
             'timestamp': '2026-01-02T03:04:05.000Z',
             'results': [{'worker': 'web-1', 'success': True,
                          'stdout': 'Filesystem  Size\n/dev/sda1 \u00e9 20G\n',
                          'stderr': '', 'exit_code': 0}]}]
sql("INSERT INTO executions (id, workflow_id, status, started_by, "
    "started_at, completed_at, logs) VALUES ('%s', '%s', 'completed', "
    "'seed-user', NOW(), NOW(), '%s')" % (
        seed_id, wf['id'], json.dumps(seed_log).replace('\\', '\\\\').replace("'", "''")))
r = call('GET', '/api/executions/' + seed_id, user='employee')
check_status('GET an execution the Node.js PULSE wrote', r, 200)
check('its logs is the log it stored, unchanged',
      isinstance(r[2], dict) and r[2].get('logs') == seed_log,
      r[2] if isinstance(r[2], dict) else r)

done()
