#!/usr/bin/env python3
"""kill -9 pulse-pushd while a parallel group runs (SPEC section 14): two
execute steps on local-1 and local-2 and a wait, each execute step
appending to the ledger when it starts and then held by a gate. pushd is
killed once both have started, the gate opened while it is down (their
results wait in the workers), and pushd restarted. Every step of the
group ran exactly once, the group ended, the step after it ran once, and
the execution completed; DESIGN section 8's invariants hold."""

import time

from faultlib import Gate, Invariants, current_step, locals_online
from pulse_test import at_end, check, ctl, diag, done, require

require('local-1 and local-2 online', locals_online())

inv = Invariants('parallel-kill')
gate = Gate('parallel-kill')
at_end(gate.remove)
group = {'name': 'both', 'type': 'parallel', 'steps': [
    inv.execute('on one', seed=11, nbytes=4096, targets=['local-1'],
                gate=gate.path),
    inv.execute('on two', seed=12, nbytes=4096, targets=['local-2'],
                gate=gate.path),
    {'name': 'pause', 'type': 'wait', 'duration': 1000}]}
after = inv.execute('after', seed=13, nbytes=1024, targets=['local-1'])
e = inv.start([group, after])
require('execution with a parallel group started', e is not None)
eid = e['id']


def started_steps():
    return sorted({x[1] for x in inv.ledger.entries() if x[0] == eid})


t0 = time.monotonic()
while started_steps() != ['1', '2'] and time.monotonic() - t0 < 60:
    time.sleep(0.1)
check('both steps of the group started before the kill',
      started_steps() == ['1', '2'], started_steps())
ctl('pushd-kill')
diag('pushd killed while the group runs; the gate opens while it is down')
gate.open()
time.sleep(1.5)
ctl('pushd-start')

ok = inv.check_all()
x = current_step(eid) or {}
check('the execution completed', x.get('status') == 'completed',
      {'status': x.get('status'), 'error': x.get('error')})
st = x.get('steps') or []
check('the group and each of its steps succeeded',
      [s.get('status') for s in st] == ['succeeded'] * 5,
      [(s.get('name'), s.get('status')) for s in st])
lines = [(s, w) for (ex, s, a, w) in inv.ledger.entries() if ex == eid]
check('every step of the group and the one after ran exactly once',
      sorted(lines) == [('1', 'local-1'), ('2', 'local-2'),
                        ('4', 'local-1')], lines)
check('local-1 and local-2 online again', locals_online())
if ok:
    at_end(inv.cleanup)
done()
