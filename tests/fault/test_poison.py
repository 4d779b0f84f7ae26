#!/usr/bin/env python3
"""A database job that fails for a reason of its own is not retried for
ever (issue 12, item 3): an execution that can no longer be moved on (its
stored definition damaged under it, as a bad restore or a hand edit
would) fails after a few tries, saying why, and pushd goes on serving.
"""

import faultlib  # noqa: F401 (the fault suite's paths and helpers)
from live import execute, online, run, wait_execution
from pulse_test import check, diag, done, require, sql

require('local-1 online', online('local-1', 60) is not None)
e = run([{'name': 'Nap', 'type': 'wait', 'duration': 3000},
         execute('After', 'echo after', ['local-1'])], prefix='poison')
require('an execution waits three seconds', e is not None)
# Valid JSON, no longer a workflow: every advance of it fails the same way.
sql("UPDATE executions SET definition = '{\"steps\": 5}' WHERE id = '%s'"
    % e['id'])
x = wait_execution(e['id'], timeout=120)
check('it ends failed instead of being retried for ever',
      x['status'] == 'failed', x['status'])
check('its error says it could not be moved on, and why',
      'could not be moved on after 5 tries' in (x.get('error') or '') and
      'definition' in (x.get('error') or ''), x.get('error'))
check('its wait step is closed with the same reason',
      x['steps'][0]['status'] == 'cancelled' and
      'could not be moved on' in (x['steps'][0].get('reason') or ''),
      x['steps'][0])
diag(x.get('error'))
f = run([execute('Still', 'echo fine', ['local-1'])], prefix='poison-next')
y = wait_execution(f['id'], timeout=60)
check('pushd goes on: the next execution completes',
      y['status'] == 'completed', y['status'])
done()
