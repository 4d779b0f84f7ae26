#!/usr/bin/env python3
"""kill -9 the worker agent while its commands run (DESIGN section 6 and
8.6): each dispatch ends `lost`, or, when the agent comes back and finds
the command finished, with the command's real result; never `succeeded`
without a real exit 0.
- agent dead past the deadline: the dispatch is lost, the execution fails;
- agent back before the deadline, after its commands (one exiting 0, one
  exiting 3) finished on their own: each ends with its real exit code and
  its complete output, which the command's keeper recorded (runner-keep.c);
- agent back while the command still runs: its result when it ends;
- agent dead past a command's timeout: the command's keeper stops it, and
  the returning agent reports it timed out.
DESIGN section 8's invariants are checked over all of them. The test waits
for evidence, not for time: the ledger (a command started), the keeper's
files in the worker's state directory (a command ended, its result was
acknowledged) and the agent's log; gates (faultlib.Gate) decide when a
command ends."""

import os

from faultlib import (GRACE_S, Gate, Invariants, locals_online, start_worker,
                      stop_worker)
from live import by_worker, execution, pid_alive, wait_execution
from pulse_test import (at_end, check, ctl, diag, done, require, unique,
                        wait_for)

name = unique('agent')
require('worker %s online' % name, start_worker(name, '') is not None)
at_end(lambda: stop_worker(name))
inv = Invariants('agent-kill')


STACK = os.environ.get('PULSE_STACK', '/tmp')
STATE = os.path.join(STACK, 'workers', name)    # pulse-dev worker_start
LOG = os.path.join(STACK, 'log', 'worker-%s.log' % name)


def started(eid):
    return wait_for(lambda: any(x[0] == eid for x in inv.ledger.entries()),
                    60, 0.1)


def command_id(eid):
    """The id of the execution's one dispatch (the command's id on the
    worker)."""
    x = execution(eid) or {}
    ds = (x.get('steps') or [{}])[0].get('dispatches') or []
    return ds[0]['id'] if ds else None


def kept_end(cid):
    """The keeper recorded how the command ended (runner-keep.c)."""
    return os.path.exists(os.path.join(STATE, 'keep', cid + '.exit'))


def log_size():
    try:
        return os.path.getsize(LOG)
    except OSError:
        return 0


def reported_kept(cid, mark):
    """The returning agent found the keeper's record and sent it, and
    the server acknowledged it (the agent dropped it from its spool)."""
    try:
        with open(LOG) as f:
            f.seek(mark)
            said = 'command %s: ended while no agent watched it' % cid \
                in f.read()
    except OSError:
        said = False
    return said and not os.path.exists(os.path.join(STATE, 'spool',
                                                    cid + '.json'))


# 1. The agent stays dead past the deadline (4 s timeout + grace).
e = inv.start([inv.execute('orphaned', seed=21, nbytes=20000, sleep_s=2,
                           targets=[name], timeout_ms=4000)])
require('execution started', e is not None)
require('its command started', started(e['id']))
cid = command_id(e['id'])
ctl('worker-kill', name)
x = wait_execution(e['id'], timeout=GRACE_S + 90)
d = by_worker(x, 0).get(name, {})
check('agent dead past the deadline: the dispatch is lost, no exit code',
      d.get('status') == 'lost' and d.get('exit_code') is None, d)
check('the execution failed saying the command was lost',
      x['status'] == 'failed' and 'lost' in (x.get('error') or ''),
      {'status': x['status'], 'error': x.get('error')})
mark = log_size()
require('the agent comes back', start_worker(name, '') is not None)
check('the returning agent reported what the keeper recorded, and it was '
      'acknowledged', cid and wait_for(lambda: reported_kept(cid, mark), 120,
                                       0.2), cid)
x = wait_execution(e['id'])
d = by_worker(x, 0).get(name, {})
check('... and its return changes nothing', d.get('status') == 'lost' and
      x['status'] == 'failed', d)

# 2. Killed while two commands run (exit 0 and exit 3), back once they
#    finished, well before their deadline (20 s + grace).
gate2 = Gate('agent-2')
at_end(gate2.remove)
ok0 = inv.start([inv.execute('exits 0', seed=22, nbytes=50 * 1024,
                             gate=gate2.path, targets=[name],
                             timeout_ms=20000)])
bad3 = inv.start([inv.execute('exits 3', seed=23, nbytes=50 * 1024,
                              gate=gate2.path, exit_code=3, targets=[name],
                              timeout_ms=20000)])
require('two executions started', ok0 is not None and bad3 is not None)
require('both commands started', started(ok0['id']) and started(bad3['id']))
cids = [command_id(ok0['id']), command_id(bad3['id'])]
ctl('worker-kill', name)
gate2.open()
require('both commands ended without their agent (their keepers recorded '
        'it)', all(cids) and wait_for(lambda: all(kept_end(c) for c in cids),
                                      60, 0.1), cids)
require('the agent comes back', start_worker(name, '') is not None)
for ex, code in ((ok0, 0), (bad3, 3)):
    x = wait_execution(ex['id'], timeout=20 + GRACE_S + 90)
    d = by_worker(x, 0).get(name, {})
    diag('exit %d command: dispatch %s, exit code %s, %s bytes'
         % (code, d.get('status'), d.get('exit_code'),
            d.get('stdout_bytes')))
    # The keeper recorded how it ended: the returning agent reports it.
    want = 'succeeded' if code == 0 else 'failed'
    check('exit %d command: its real result came back (%s, exit %d, '
          'all 51200 bytes), not lost' % (code, want, code),
          d.get('status') == want and d.get('exit_code') == code and
          d.get('stdout_bytes') == 51200, d)
    check('exit %d command: never succeeded without a real exit 0' % code,
          d.get('status') != 'succeeded' or (code == 0 and
                                             d.get('exit_code') == 0), d)

# 3. Killed, and back while the command still runs (under its keeper):
#    the result arrives when the command ends.
gate3 = Gate('agent-3')
at_end(gate3.remove)
e3 = inv.start([inv.execute('outlives two agents', seed=24,
                            nbytes=50 * 1024, gate=gate3.path, targets=[name],
                            timeout_ms=30000)])
require('third execution started', e3 is not None)
require('its command started', started(e3['id']))
cid3 = command_id(e3['id'])
ctl('worker-kill', name)
require('the agent comes back', start_worker(name, '') is not None)
check('... while the command still runs (its keeper recorded no end)',
      cid3 and not kept_end(cid3), cid3)
gate3.open()
x = wait_execution(e3['id'], timeout=30 + GRACE_S + 90)
d = by_worker(x, 0).get(name, {})
check('a command still running when its agent returns reports its real '
      'result when it ends', x['status'] == 'completed' and
      d.get('status') == 'succeeded' and d.get('exit_code') == 0 and
      d.get('stdout_bytes') == 51200, d)

# 4. With no agent to stop it, the keeper stops a command at its timeout
#    (after the agent's own stop would have, so a live agent acts first),
#    and a returning agent reports it timed out: never a success.
pidfile = os.path.join(os.environ.get('PULSE_STACK', '/tmp'),
                       'agent-kill-%s.pid' % name)
e4 = inv.start([{'name': 'runaway', 'type': 'execute', 'targets': [name],
                 'command': 'echo $$ > %s; exec sleep 300' % pidfile,
                 'timeout': 3000}])
require('fourth execution started', e4 is not None)
require('the runaway command started',
        wait_for(lambda: os.path.exists(pidfile) and
                 open(pidfile).read().strip(), 30, 0.1))
pid = int(open(pidfile).read().strip())
ctl('worker-kill', name)
check('with its agent dead, the command is stopped at its timeout (3 s '
      '+ the agent\'s 5 s grace), by its keeper',
      wait_for(lambda: not pid_alive(pid), 120, 0.5), pid)
require('the agent comes back', start_worker(name, '') is not None)
x = wait_execution(e4['id'], timeout=GRACE_S + 90)
d = by_worker(x, 0).get(name, {})
check('... and that is its result: timed out (or lost), never a success',
      d.get('status') in ('timed_out', 'lost') and
      d.get('exit_code') is None and x['status'] == 'failed', d)
diag('runaway command: dispatch %s, signal %s' % (d.get('status'),
                                                  d.get('signal')))
try:
    os.unlink(pidfile)
except OSError:
    pass

ok = inv.check_all()
stop_worker(name)
check('local-1 and local-2 online', locals_online())
if ok:
    at_end(inv.cleanup)
done()
