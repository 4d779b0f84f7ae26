#!/usr/bin/env python3
"""A timeout kills the command's whole process group, a background child
included; cancel does the same; the results say so (not success)."""

import os
import tempfile
import time

from live import by_worker, execute, online, pid_alive, run, wait_execution
from pulse_test import call, check, check_status, done, require, wait_for

require('local-1 online', online('local-1') is not None)
pidfile = tempfile.mktemp(prefix='pulse-kill-')

# The shell starts a background sleep, notes its pid, then sleeps itself.
cmd = "sleep 300 & echo $! > %s; sleep 300" % pidfile
e = run([execute('hang', cmd, ['local-1'], timeout=1500)])
e = wait_execution(e['id'], timeout=30)
d = by_worker(e, 0).get('local-1', {})
check('timed-out command: execution failed', e['status'] == 'failed', e)
check('dispatch status timed_out', d.get('status') == 'timed_out', d)
check('no exit code for a killed command', d.get('exit_code') is None, d)
check('killed by a signal', isinstance(d.get('signal'), int), d)
pid = int(open(pidfile).read().strip()) if os.path.exists(pidfile) else 0
check('the background child was started', pid > 0)
check('the background child is gone too',
      wait_for(lambda: not pid_alive(pid), 120), pid)
check('error names the timeout', 'timed_out' in (e.get('error') or ''),
      e.get('error'))

os.unlink(pidfile) if os.path.exists(pidfile) else None
e = run([execute('hang', cmd, ['local-1'], timeout=600000)])
ok = wait_for(lambda: os.path.exists(pidfile) and
              open(pidfile).read().strip(), 120)
require('cancel target started', ok)
pid = int(open(pidfile).read().strip())
t0 = time.monotonic()
r = call('POST', '/api/executions/%s/cancel' % e['id'], body={})
check_status('cancel', r, 200)
check('execution cancelled', r[2]['status'] == 'cancelled', r[2])
check('cancel kills the background child',
      wait_for(lambda: not pid_alive(pid), 120), pid)


def dispatch_final():
    x = wait_execution(e['id'])
    dd = by_worker(x, 0).get('local-1', {})
    return dd if dd.get('status') not in ('queued', 'sent', 'running') \
        else None


d = wait_for(dispatch_final, 30) or {}
check('the cancelled command reports how it ended: killed, not a success',
      d.get('status') in ('failed', 'cancelled') and
      d.get('exit_code') is None and isinstance(d.get('signal'), int), d)
os.unlink(pidfile)
done()
