#!/usr/bin/env python3
"""A worker cut off from the control center (a TCP proxy between it and
nginx that the test stops) while its command runs:
- for less than the command's deadline: the command finishes, its output
  arrives complete, once;
- for longer than the deadline (timeout + PULSE_DISPATCH_GRACE_MS): the
  dispatch is `lost`, the execution fails saying so, and the result the
  worker sends once it is back does not resurrect either.
DESIGN section 8's invariants are checked over both executions."""

import os
import time
import urllib.parse

from faultlib import (GRACE_S, Invariants, locals_online, start_worker,
                      stop_worker)
from live import Proxy, by_worker, online, wait_execution
from pulse_test import (URL, at_end, check, diag, done, require, sql, unique,
                        wait_for)

u = urllib.parse.urlsplit(URL)
proxy = Proxy(u.hostname, u.port)
name = unique('cut')
require('worker behind the proxy online', start_worker(
    name, '', PULSE_SERVER='http://127.0.0.1:%d' % proxy.port) is not None)
at_end(lambda: stop_worker(name))
inv = Invariants('cutoff')
stack = os.environ.get('PULSE_STACK', '/tmp')


def started(eid, n=1):
    return wait_for(lambda: sum(1 for x in inv.ledger.entries()
                                if x[0] == eid) >= n, 30, 0.1)


# 1. Cut for 3 s of a 6 s command whose deadline is 60 s + grace.
e = inv.start([inv.execute('through the cut', seed=11, nbytes=50 * 1024,
                           sleep_s=6, targets=[name], timeout_ms=60000)])
require('short-cut execution started', e is not None)
require('its command started', started(e['id']))
proxy.cut()
time.sleep(3)
proxy.restore()
x = wait_execution(e['id'], timeout=120)
d = by_worker(x, 0).get(name, {})
check('cut shorter than the deadline: the execution completed',
      x['status'] == 'completed', x)
check('its output arrived complete: 51200 bytes',
      d.get('stdout_bytes') == 51200 and not d.get('stdout_truncated') and
      len(d.get('stdout') or '') == 51200,
      {k: d.get(k) for k in ('status', 'stdout_bytes', 'stdout_truncated')})
check('one dispatch, one start', len(x['steps'][0]['dispatches']) == 1 and
      len([y for y in inv.ledger.entries() if y[0] == e['id']]) == 1,
      inv.ledger.entries())

# 2. Cut for longer than the deadline: 3 s timeout + grace.
e2 = inv.start([inv.execute('past the deadline', seed=12, nbytes=50 * 1024,
                            sleep_s=2, targets=[name], timeout_ms=3000)])
require('long-cut execution started', e2 is not None)
require('its command started', started(e2['id']))
try:
    log_mark = os.path.getsize(os.path.join(stack, 'log',
                                            'worker-%s.log' % name))
except OSError:
    log_mark = 0
proxy.cut()
t0 = time.monotonic()
x = wait_execution(e2['id'], timeout=GRACE_S + 90)
diag('execution final %.0f s after the cut' % (time.monotonic() - t0))
d = by_worker(x, 0).get(name, {})
check('cut longer than the deadline: the dispatch is lost',
      d.get('status') == 'lost' and d.get('exit_code') is None, d)
check('the execution failed, saying the command was lost',
      x['status'] == 'failed' and 'lost' in (x.get('error') or ''),
      {'status': x['status'], 'error': x.get('error')})
proxy.restore()
require('the worker is back online', online(name, 60) is not None)

# The worker spooled the real result (exit 0) while cut off, and sends it
# once it is back: pushd must take it (so the worker forgets it) and
# change nothing.
def log_says_again():
    try:
        with open(os.path.join(stack, 'log', 'worker-%s.log' % name)) as f:
            f.seek(log_mark)
            return 'again' in f.read()
    except OSError:
        return False


check('the worker sent its late result again after the cut',
      wait_for(log_says_again, 60, 0.5))
# Taken: pushd acknowledged it, and the worker dropped it from its spool.
ds = (x.get('steps') or [{}])[0].get('dispatches') or [{}]
spooled = os.path.join(stack, 'workers', name, 'spool',
                       '%s.json' % ds[0].get('id'))
check('pushd acknowledged the late result (the worker\'s spool let it go)',
      ds[0].get('id') and wait_for(lambda: not os.path.exists(spooled), 120,
                                   0.2), spooled)
rows = sql("SELECT status, COALESCE(exit_code, 'none'), "
           "COALESCE(stdout_bytes, 0) FROM dispatches "
           "WHERE execution_id = '%s'" % e2['id'])
x = wait_execution(e2['id'])
check('the late result resurrects nothing: dispatch still lost, no exit '
      'code, execution still failed',
      rows and rows[0][0] == 'lost' and rows[0][1] == 'none' and
      x['status'] == 'failed', {'rows': rows, 'status': x['status']})
ev = sql("SELECT type, JSON_VALUE(payload, '$.status') FROM events "
         "WHERE execution_id = '%s' AND type IN ('dispatch_status', "
         "'execution_status') ORDER BY id" % e2['id'])
after = [r for r in ev[[r[1] for r in ev].index('lost'):]] \
    if any(r[1] == 'lost' for r in ev) else ev
check('no event after the loss but the execution failing',
      all(r[0] == 'execution_status' and r[1] == 'failed'
          for r in after[1:]), ev)

ok = inv.check_all()
stop_worker(name)
proxy.close()
check('local-1 and local-2 online', locals_online())
if ok:
    at_end(inv.cleanup)
done()
