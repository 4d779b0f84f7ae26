#!/usr/bin/env python3
"""A database job that fails for a reason of its own is not retried for
ever (issue 12, item 3):
  - an execution that can no longer be moved on (its stored definition
    damaged under it, as a bad restore or a hand edit would) fails after
    a few tries, saying why, and pushd goes on serving;
  - a result the database refuses (here a trigger refuses it; in life a
    row too big, a constraint) ends its command failed with the reason,
    and the worker is told to forget it (result_ack "refused") instead of
    sending it again on every reconnect.
"""

import os
import sys

import faultlib  # noqa: F401 (the fault suite's paths and helpers)
from live import execute, online, run, wait_execution
from pulse_test import at_end, check, diag, done, require, sql, unique

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'security'))
import seclib  # noqa: E402

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

# A result the database will not take.
# One statement (the client splits at ';'): status may not be NULL, so
# the write of that one result fails with a data error, every time.
sql("CREATE OR REPLACE TRIGGER pulse_test_poison BEFORE UPDATE ON "
    "dispatches FOR EACH ROW SET NEW.status = IF(NEW.stdout = "
    "'poisoned result', NULL, NEW.status)")
try:
    W = seclib.FakeWorker(unique('poison'))
    at_end(W.delete)
    require('a raw worker is online', W.online())
    e = run([execute('Refused', 'true', [W.name])], prefix='poison-result')
    cmd = W.next_command(60)
    require('it receives a command', cmd is not None)
    W.ws.send_json(W.result(cmd, stdout='poisoned result'))
    ack, seen = W.ws.recv_until(lambda m: m.get('type') == 'result_ack', 60)
    check('the worker is told to forget it: result_ack "refused"',
          ack is not None and ack.get('status') == 'refused' and
          ack.get('command_id') == cmd['command_id'], seen[-3:])
    x = wait_execution(e['id'], timeout=60)
    d = (x['steps'][0].get('dispatches') or [{}])[0]
    check('its command ends failed, saying the result could not be stored',
          d.get('status') == 'failed' and 'could not be stored' in
          (d.get('error') or '') and x['status'] == 'failed', d)
    W.close()
finally:
    sql('DROP TRIGGER IF EXISTS pulse_test_poison')
done()
