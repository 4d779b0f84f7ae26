#!/usr/bin/env python3
"""kill -9 pulse-pushd while a retry waits for its delay (SPEC section 14,
DESIGN section 8): once pushd is back the retry runs once, not before its
not_before; every attempt is one dispatch row; the ledger the command
appends to shows no attempt ran twice. Twice: pushd back within the delay,
and pushd back only after the retry came due."""

import time

from faultlib import Ledger, locals_online
from live import execute, run, wait_execution
from pulse_test import at_end, call, check, ctl, diag, done, require, wait_for

require('local-1 and local-2 online', locals_online())
ledger = Ledger('retry')
at_end(ledger.remove)


def attempts(e):
    return sorted([d for d in e['steps'][0].get('dispatches') or []],
                  key=lambda d: d['attempt'])


def case(delay_ms, down_s):
    # Fails on its first run (counted in the ledger), succeeds after.
    cmd = ('%s; n=$(grep -c "^$PULSE_EXECUTION_ID:" %s); echo run $n; '
           '[ $n -gt 1 ] || exit 7' % (ledger.fragment(), ledger.path))
    e = run([execute('flaky', cmd, ['local-1'],
                     retry={'attempts': 2, 'delay': delay_ms})],
            prefix='fault-retry')
    require('execution started', e is not None)
    eid = e['id']

    def retry_waits():
        x = call('GET', '/api/executions/%s' % eid)[2]
        a = attempts(x) if isinstance(x, dict) else []
        return len(a) == 2 and a[1]['status'] == 'queued'
    require('attempt 2 queued, waiting for its delay',
            wait_for(retry_waits, 60, 0.05))
    ctl('pushd-kill')
    diag('pushd killed during a %d ms retry delay; back after %.1f s'
         % (delay_ms, down_s))
    time.sleep(down_s)
    ctl('pushd-start')
    x = wait_execution(eid, timeout=120)
    a = attempts(x)
    tag = '(delay %d ms, pushd down %.1f s)' % (delay_ms, down_s)
    check('the execution completes %s' % tag, x['status'] == 'completed', x)
    check('every attempt appears once: 1 failed, 2 succeeded %s' % tag,
          [(d['attempt'], d['status']) for d in a] ==
          [(1, 'failed'), (2, 'succeeded')], a)
    if len(a) == 2:
        check('the retry was sent at or after its not_before %s' % tag,
              a[1]['not_before'] is not None and a[1]['sent_at'] is not None
              and a[1]['sent_at'] >= a[1]['not_before'], a[1])
        check('each attempt kept its own output %s' % tag,
              a[0]['stdout'].strip() == 'run 1' and
              a[1]['stdout'].strip() == 'run 2', a)
    runs = [tuple(x[1:3]) for x in ledger.entries() if x[0] == eid]
    check('the ledger: each attempt ran once %s' % tag,
          sorted(runs) == [('0', '1'), ('0', '2')], runs)


case(6000, 1.0)    # back within the delay
case(500, 4.0)     # back after the retry came due
# Nothing ran again later (a resend after the restart).
time.sleep(2)
lines = ledger.entries()
check('no ledger line twice over both executions',
      len(lines) == len(set(lines)), lines)
done()
