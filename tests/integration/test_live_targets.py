#!/usr/bin/env python3
"""Targets: a worker by name, a group, "all", several at once without
repeats, and a target no online worker matches (the step fails naming it)."""

from live import by_worker, execute, online, run, wait_execution
from pulse_test import check, done, require

require('local-1 online', online('local-1') is not None)
require('local-2 online', online('local-2') is not None)


def ran_on(targets):
    e = run([execute('who', 'echo "$(hostname) ok"', targets)])
    e = wait_execution(e['id'])
    return e, set(by_worker(e, 0))


e, names = ran_on(['local-1'])
check('by name: only local-1', names == {'local-1'}, names)
check('by name: completed', e['status'] == 'completed', e)
e, names = ran_on(['db'])
check('by group db: only local-2', names == {'local-2'}, names)
e, names = ran_on(['demo'])
check('by group demo: both', {'local-1', 'local-2'} <= names, names)
e, names = ran_on(['all'])
check('all: both', {'local-1', 'local-2'} <= names, names)
e, names = ran_on(['local-2', 'db', 'demo'])
check('overlapping targets run once per worker',
      len(e['steps'][0]['dispatches']) == len(names) and
      {'local-1', 'local-2'} <= names, e['steps'][0]['dispatches'])
e, names = ran_on(['no-such-worker'])
check('no match: execution failed', e['status'] == 'failed', e)
check('no match: the error names the target',
      'no-such-worker' in (e.get('error') or ''), e.get('error'))
check('no match: no dispatch', names == set(), names)
done()
