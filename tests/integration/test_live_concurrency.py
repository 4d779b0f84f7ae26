#!/usr/bin/env python3
"""MAX_CONCURRENT_TASKS=2 and five commands at once: never more than two
run at the same time, and all five finish."""

import os
import tempfile

from live import by_worker, start_worker, wait_execution
from pulse_test import call, check, check_status, ctl, done, require, unique

name = unique('conc')
w = start_worker(name, 'conc', MAX_CONCURRENT_TASKS='2')
require('worker with MAX_CONCURRENT_TASKS=2 online', w is not None)
log = tempfile.mktemp(prefix='pulse-conc-')

# Each command logs its start and end with a nanosecond clock.
cmd = ('echo "start $(date +%%s%%N)" >> %s; sleep 1; '
       'echo "end $(date +%%s%%N)" >> %s') % (log, log)
ids = []
for i in range(5):
    r = call('POST', '/api/workers/%s/command' % w['id'],
             body={'command': cmd, 'timeout': 60000})
    check_status('command %d queued' % (i + 1), r, 201)
    ids.append(r[2]['id'])

results = [wait_execution(i, timeout=60) for i in ids]
check('all five completed', all(e['status'] == 'completed'
                                for e in results),
      [e['status'] for e in results])
events = []
with open(log) as f:
    for line in f:
        kind, t = line.split()
        events.append((int(t), 1 if kind == 'start' else -1))
events.sort(key=lambda x: (x[0], x[1]))
running = peak = 0
for _, delta in events:
    running += delta
    peak = max(peak, running)
check('five starts and five ends logged', len(events) == 10, events)
check('never more than 2 at once (peak %d)' % peak, peak <= 2, events)
check('the limit was used (2 at once at some point)', peak == 2, events)
for e in results:
    d = by_worker(e, 0).get(name, {})
    check('exit code 0', d.get('exit_code') == 0, d)
os.unlink(log)
ctl('worker-stop', name)
done()
