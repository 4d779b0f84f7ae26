#!/usr/bin/env python3
"""Retries of an execute step (SPEC section 14): a failed or timed-out
target runs again on the same worker after the delay, each attempt its own
dispatch with its own output and exit code; a lost one only with
retry_lost; the reason of a step that ran out of attempts counts them; a
bad retry key is refused at save naming it."""

import datetime
import os
import shutil
import tempfile

from live import execute, online, run, wait_execution
from pulse_test import (at_end, call, check, check_status, ctl, done, require,
                        unique, wait_for)

require('local-1 online', online('local-1') is not None)
tmp = tempfile.mkdtemp(prefix='pulse-retry-')
at_end(lambda: shutil.rmtree(tmp, ignore_errors=True))


def counting(fail_runs, code=3, hang=False):
    """A command that counts its runs in a file of this test's temp dir
    keyed by the execution id: runs up to fail_runs fail (exit code, or
    hang for a timeout), later ones succeed."""
    bad = 'sleep 120' if hang else 'exit %d' % code
    return ('f=%s/$PULSE_EXECUTION_ID; n=$(( $(cat $f 2>/dev/null || '
            'echo 0) + 1 )); echo $n > $f; echo "run $n attempt '
            '$PULSE_ATTEMPT"; [ $n -gt %d ] || %s' % (tmp, fail_runs, bad))


def ts(s):
    return datetime.datetime.fromisoformat(s.replace('Z', '+00:00'))


def ms(a, b):
    return (ts(b) - ts(a)).total_seconds() * 1000


def attempts(e, index=0, worker='local-1'):
    return sorted([d for d in e['steps'][index].get('dispatches') or []
                   if d['worker_name'] == worker], key=lambda d: d['attempt'])


# ------------------------------------------------------------ validation
def save(step):
    r = call('POST', '/api/workflows', body={
        'name': unique('retry-bad'), 'definition': {'steps': [step]}})
    if r[0] == 201:
        wid = r[2]['id']
        at_end(lambda: call('DELETE', '/api/workflows/' + wid))
    return r


base = {'name': 's', 'type': 'execute', 'targets': ['local-1'],
        'command': 'true'}
for extra, field in (
        ({'retry': 3}, 'retry'),
        ({'retry': {}}, 'retry.attempts'),
        ({'retry': {'attempts': 11}}, 'retry.attempts'),
        ({'retry': {'attempts': -1}}, 'retry.attempts'),
        ({'retry': {'attempts': 1, 'delay': -5}}, 'retry.delay'),
        ({'retry': {'attempts': 1, 'delay': 3600001}}, 'retry.delay'),
        ({'retry': {'attempts': 1, 'backoff': 0.5}}, 'retry.backoff'),
        ({'retry': {'attempts': 1, 'backoff': 11}}, 'retry.backoff'),
        ({'retry': {'attempts': 1, 'delay': 5000, 'max_delay': 10}},
         'retry.max_delay'),
        ({'retry': {'attempts': 1, 'tries': 2}}, 'retry.tries'),
        ({'retry_lost': True}, 'retry_lost'),
        ({'retry': {'attempts': 1}, 'retry_lost': 'yes'}, 'retry_lost')):
    s = dict(base, **extra)
    r = save(s)
    check_status('refused: %s' % extra, r, 400)
    err = r[2] if isinstance(r[2], dict) else {}
    check('%s names field %s and step 0' % (extra, field),
          err.get('field') == field and err.get('step') == 0, err)
r = save(dict(base, retry={'attempts': 2, 'delay': 10, 'backoff': 1.5,
                           'max_delay': 100}, retry_lost=True))
check_status('a full retry saves', r, 201)

# ------------------------------------------- fails twice, then succeeds
after = execute('after', 'echo seen', ['local-1'])
after['condition'] = ("state.steps[0].exitCode === 0 && "
                      "state.steps[0].stdout.includes('run 3') && "
                      "state.steps[0].results['local-1'].status === "
                      "'succeeded'")
e = run([execute('flaky', counting(2), ['local-1'],
                 retry={'attempts': 3, 'delay': 1000, 'backoff': 2}),
         after], prefix='retry')
require('started', e is not None)
e = wait_execution(e['id'], timeout=90)
check('fails twice then succeeds: execution completed',
      e['status'] == 'completed', e)
check('step succeeded', e['steps'][0]['status'] == 'succeeded', e['steps'][0])
check('conditions see the latest attempt (exit code 0, its stdout)',
      e['steps'][1]['status'] == 'succeeded', e['steps'][1])
check('the step shows its retry', e['steps'][0].get('retry') == {
    'attempts': 3, 'delay': 1000, 'backoff': 2, 'max_delay': 8000,
    'lost': False}, e['steps'][0].get('retry'))
a = attempts(e)
check('three attempts on local-1', [d['attempt'] for d in a] == [1, 2, 3],
      a)
if len(a) == 3:
    check('each attempt has its own stdout',
          [d['stdout'].strip() for d in a] ==
          ['run %d attempt %d' % (i, i) for i in (1, 2, 3)],
          [d['stdout'] for d in a])
    check('each attempt has its own exit code',
          [d['exit_code'] for d in a] == [3, 3, 0], a)
    check('statuses failed, failed, succeeded',
          [d['status'] for d in a] == ['failed', 'failed', 'succeeded'], a)
    check('the first attempt has no not_before, the retries have one',
          a[0]['not_before'] is None and a[1]['not_before'] and
          a[2]['not_before'], [d['not_before'] for d in a])
    g1 = ms(a[0]['finished_at'], a[1]['started_at'])
    g2 = ms(a[1]['finished_at'], a[2]['started_at'])
    check('gap before attempt 2 at least 90 %% of 1000 ms (%d ms)' % g1,
          g1 >= 900, g1)
    check('gap before attempt 3 at least 90 %% of 2000 ms (%d ms)' % g2,
          g2 >= 1800, g2)
    check('no attempt started before its not_before',
          all(ms(d['not_before'], d['started_at']) >= 0 for d in a[1:]), a)
    w1 = ms(a[0]['finished_at'], a[1]['not_before'])
    w2 = ms(a[1]['finished_at'], a[2]['not_before'])
    check('backoff: the second delay (%d ms) is longer than the first '
          '(%d ms)' % (w2, w1), w2 > w1, (w1, w2))

# ------------------------------------------------------------ exhausted
e = run([execute('broken', counting(99, code=4), ['local-1'],
                 retry={'attempts': 2, 'delay': 100})], prefix='retry')
e = wait_execution(e['id'], timeout=60)
a = attempts(e)
check('out of attempts: execution failed', e['status'] == 'failed', e)
check('three attempts ran', [d['attempt'] for d in a] == [1, 2, 3], a)
check('each failed with exit code 4',
      [(d['status'], d['exit_code']) for d in a] == [('failed', 4)] * 3, a)
reason = e['steps'][0].get('reason') or ''
check('the reason counts the attempts',
      reason == "failed on worker 'local-1' (exit code 4) after 3 attempts",
      reason)

# -------------------------------------------------- no retry: as before
e = run([execute('once', 'exit 5', ['local-1'])], prefix='retry')
e = wait_execution(e['id'], timeout=60)
check('without retry the step shows retry null',
      'retry' in e['steps'][0] and e['steps'][0]['retry'] is None,
      e['steps'][0])
check('without retry one attempt',
      [d['attempt'] for d in attempts(e)] == [1], attempts(e))
check('without retry the reason is as before',
      e['steps'][0].get('reason') ==
      "failed on worker 'local-1' (exit code 5)", e['steps'][0])

# --------------------------------------- cancel while a retry waits
e = run([execute('later', 'exit 9', ['local-1'],
                 retry={'attempts': 2, 'delay': 60000})], prefix='retry')


def waiting():
    x = call('GET', '/api/executions/%s' % e['id'])[2]
    a = attempts(x)
    return x if len(a) == 2 and a[1]['status'] == 'queued' else None


x = wait_for(waiting, 60)
check('a retry waits, queued, for its delay', x is not None, x)
r = call('POST', '/api/executions/%s/cancel' % e['id'], body={})
check_status('cancel while the retry waits', r, 200)
x = wait_execution(e['id'], timeout=30)
a = attempts(x)
check('the waiting retry is cancelled with its execution',
      x['status'] == 'cancelled' and
      [(d['attempt'], d['status']) for d in a] ==
      [(1, 'failed'), (2, 'cancelled')], a)

# ---------------------------------------------------- timeout is retried
e = run([execute('slow', counting(1, hang=True), ['local-1'], timeout=1000,
                 retry={'attempts': 1, 'delay': 100})], prefix='retry')
e = wait_execution(e['id'], timeout=90)
a = attempts(e)
check('a timed-out attempt is retried and the execution completes',
      e['status'] == 'completed' and
      [d['status'] for d in a] == ['timed_out', 'succeeded'], a)

# ------------------------------------------------------------ retry_lost
def lost_case(retry_lost):
    name = unique('rl')
    require('worker %s online' % name, ctl_start(name))
    at_end(lambda: forget(name))
    pidf = os.path.join(tmp, name + '.pid')
    cmd = ('echo $$ > %s; f=%s/$PULSE_EXECUTION_ID; n=$(( $(cat $f '
           '2>/dev/null || echo 0) + 1 )); echo $n > $f; echo run $n; '
           '[ $n -gt 1 ] || sleep 120' % (pidf, tmp))
    step = execute('lost', cmd, [name], timeout=1000,
                   retry={'attempts': 2, 'delay': 100})
    if retry_lost:
        step['retry_lost'] = True
    x = run([step], prefix='retry')
    require('started', x is not None)
    require('the first attempt runs',
            wait_for(lambda: os.path.exists(pidf), 30))
    ctl('worker-kill', name)
    try:
        os.killpg(int(open(pidf).read().strip()), 9)
    except (OSError, ValueError):
        pass

    def first_lost():
        y = call('GET', '/api/executions/%s' % x['id'])[2]
        d = attempts(y, 0, name)
        return y if d and d[0]['status'] == 'lost' else None
    y = wait_for(first_lost, 90)
    require('the first attempt ends lost while its worker is away', y)
    require('worker back', ctl_start(name))
    y = wait_execution(x['id'], timeout=60)
    return y, attempts(y, 0, name)


def ctl_start(name):
    ctl('worker-start', name, 'retry')
    return online(name) is not None


def forget(name):
    try:
        ctl('worker-stop', name)
    except Exception:
        pass
    r = call('GET', '/api/workers')
    for w in r[2] if r[0] == 200 else []:
        if w['name'] == name:
            call('DELETE', '/api/workers/%s' % w['id'])


y, a = lost_case(True)
check('retry_lost: the lost attempt is retried on the worker back',
      y['status'] == 'completed' and
      [(d['attempt'], d['status']) for d in a] ==
      [(1, 'lost'), (2, 'succeeded')], a)
check('retry_lost: the retry ran the command again',
      len(a) == 2 and a[1]['stdout'].strip() == 'run 2', a)
y, a = lost_case(False)
check('without retry_lost a lost attempt is not retried',
      y['status'] == 'failed' and
      [(d['attempt'], d['status']) for d in a] == [(1, 'lost')], a)
done()
