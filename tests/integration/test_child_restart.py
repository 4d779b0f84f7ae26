#!/usr/bin/env python3
"""A pulse-api child killed with SIGKILL is replaced by the master, and
requests keep succeeding meanwhile (DESIGN section 1). The waits end only a
hung test (DEADLINE_S); how long the master took is not a check."""

import os
import signal

from pulse_test import (call, check, ctl_pids, done, have_ctl, require,
                        wait_for)

DEADLINE_S = 120

require('PULSE_CTL is set', have_ctl())
master = ctl_pids('api-master')
before = ctl_pids('api-children')
require('pulse-api has children', len(before) >= 1, before)
check('pulse-api answers before', call('GET', '/api/workflows')[0] == 200)

victim = before[0]
try:
    os.kill(victim, signal.SIGKILL)
except OSError as e:
    require('kill -9 child %d' % victim, False, str(e))


def gone(pid):
    try:
        os.kill(pid, 0)	# a zombie still answers: gone means reaped
    except ProcessLookupError:
        return True
    return False


# Requests during and after: the killed child held no request, so at most
# one (the unlucky one nginx handed to it as it died) may fail, with 502.
statuses = [call('GET', '/api/workflows')[0] for _ in range(50)]
bad = [s for s in statuses if s != 200]
check('50 requests right after the kill: all 200 but at most one 502',
      len(bad) <= 1 and all(s == 502 for s in bad), statuses)


def replaced():
    now = ctl_pids('api-children')
    return now if len(now) == len(before) and victim not in now else None


check('the master reaps the killed child',
      wait_for(lambda: gone(victim), DEADLINE_S, 0.05))
after = wait_for(replaced, DEADLINE_S, 0.1)
check('there are %d children again, without %d'
      % (len(before), victim), after is not None, ctl_pids('api-children'))
if after:
    check('the others were left alone',
          set(before) - {victim} <= set(after), (before, after))
check('the master is the same process', ctl_pids('api-master') == master,
      ctl_pids('api-master'))

statuses = [call('GET', '/api/workflows')[0] for _ in range(20)]
check('20 more requests after the replacement: all 200',
      all(s == 200 for s in statuses), statuses)

done()
