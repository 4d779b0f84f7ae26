#!/usr/bin/env python3
"""Faults during live executions:
- the worker's connection is cut for a few seconds while its command runs:
  the command finishes and its result arrives, once;
- pulse-pushd is killed (-9) in the middle of a 20-step execution and
  restarted: the execution completes and the ledger the commands append to
  shows that no step ran twice;
- a worker is killed (-9) mid-command: that dispatch ends `lost` (never
  success) by its deadline."""

import os
import tempfile
import time
import urllib.parse

from live import (Proxy, by_worker, execute, online, run, start_worker,
                  wait_execution, wait_step)
from pulse_test import URL, check, ctl, done, require, sql, unique, wait_for

u = urllib.parse.urlsplit(URL)

# 1. Connection cut while a command runs.
proxy = Proxy(u.hostname, u.port)
name = unique('cut')
w = start_worker(name, '', PULSE_SERVER='http://127.0.0.1:%d' % proxy.port)
require('worker behind the proxy online', w is not None)
ledger = tempfile.mktemp(prefix='pulse-ledger-')
e = run([execute('slow', 'echo run >> %s; sleep 4; echo finished' % ledger,
                 [name], timeout=60000)])
require('started', e is not None)
require('the command behind the proxy started',
        wait_for(lambda: os.path.exists(ledger), 120))
proxy.cut()
time.sleep(3)
proxy.restore()
e = wait_execution(e['id'], timeout=90)
d = by_worker(e, 0).get(name, {})
check('command finished across the cut', e['status'] == 'completed', e)
check('its output arrived', d.get('stdout') == 'finished\n', d)
check('one dispatch, one result', len(e['steps'][0]['dispatches']) == 1,
      e['steps'][0]['dispatches'])
check('the command ran once', open(ledger).read() == 'run\n',
      open(ledger).read())
os.unlink(ledger)
ctl('worker-stop', name)
proxy.close()

# 2. kill -9 pushd during a 20-step execution.
require('local-1 online', online('local-1') is not None)
ledger = tempfile.mktemp(prefix='pulse-ledger-')
steps = [execute('step %d' % i, 'echo "step %d" >> %s; sleep 0.3'
                 % (i, ledger), ['local-1'], timeout=60000)
         for i in range(20)]
e = run(steps, 'twenty')
require('20-step execution started', e is not None)
wait_step(e['id'], 5, ('running', 'succeeded'), timeout=60)
ctl('pushd-kill')
time.sleep(1)
ctl('pushd-start')
e = wait_execution(e['id'], timeout=180)
check('20-step execution completed after pushd was killed',
      e['status'] == 'completed', e)
lines = open(ledger).read().split('\n')[:-1]
nums = [int(x.split()[-1]) for x in lines]
check('every step ran', sorted(set(nums)) == list(range(20)), nums)
check('no step ran twice', len(nums) == len(set(nums)), nums)
check('steps ran in order', nums == sorted(nums), nums)
os.unlink(ledger)

# 3. kill -9 a worker mid-command.
name = unique('victim')
w = start_worker(name, '')
require('victim worker online', w is not None)
marker = tempfile.mktemp(prefix='pulse-victim-')
e = run([execute('long', 'echo started; echo warn >&2; touch %s; sleep 30; '
                 'echo never' % marker, [name], timeout=3000)])
require('the victim\'s command started',
        wait_for(lambda: os.path.exists(marker), 120))
ctl('worker-kill', name)
e = wait_execution(e['id'], timeout=120)
d = by_worker(e, 0).get(name, {})
check('execution failed', e['status'] == 'failed', e)
check('dispatch ended lost', d.get('status') == 'lost', d)
check('no exit code invented', d.get('exit_code') is None, d)
check('the error says lost', 'lost' in (e.get('error') or ''), e.get('error'))
# Its hashes stored, of what streamed in (SPEC section 17; "started" when
# its chunk came before the kill, else nothing): the grouped view never
# hashes a lost row's output again in SQL. Before: both NULL.
h = sql("SELECT stdout, stdout_sha256 = SHA2(COALESCE(stdout, ''), 256), "
        "stderr_sha256 = SHA2(COALESCE(stderr, ''), 256) FROM dispatches "
        "WHERE id = '%s'" % d.get('id'))
check('the lost dispatch stored its output and both hashes of it',
      len(h) == 1 and h[0][1:] == ['1', '1'], h)
os.unlink(marker)
done()
