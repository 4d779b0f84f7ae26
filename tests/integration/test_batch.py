#!/usr/bin/env python3
"""Rolling batches (SPEC section 14, issue 14) on 20 real pulse-worker
processes in one group: a rolling update whose second batch fails more
than max_failures (the rest skipped, the step fails saying why), a canary
list [1, "10%", "100%"], a percentage size, a pause between batches (from
the stored times, never an upper bound), batches in order, and the save
errors of a bad `batch`."""

import atexit

from live import execute, execution, run, start_worker, wait_execution
from pulse_test import (at_end, call, check, ctl, done, find_worker, require,
                         unique,
                         wait_for)

GROUP = unique('batch')
NAMES = ['%s-w%02d' % (GROUP, i) for i in range(1, 21)]


def stop_workers():
    """Stopped and deleted: the shared stack's worker list as it was."""
    for n in NAMES:
        try:
            ctl('worker-stop', n)
        except Exception:
            pass
        w = find_worker(n)
        if w:
            call('DELETE', '/api/workers/%s' % w['id'])


def stop_processes():
    for n in NAMES:
        try:
            ctl('worker-stop', n)
        except Exception:
            pass


# The processes go whatever happens (atexit); their rows only after a
# passing run (at_end), so that a failure leaves its data to look at.
atexit.register(stop_processes)
at_end(stop_workers)
for n in NAMES:
    require('worker %s online' % n, start_worker(n, GROUP) is not None)

# A command that fails on the workers named in FAIL (its own name is in
# PULSE_WORKER_NAME, which every worker gives its commands).
def failing_on(names):
    return ('case " %s " in *" $PULSE_WORKER_NAME "*) echo no; exit 3;; '
            'esac; echo "ok $PULSE_WORKER_NAME"' % ' '.join(names))


def run_batched(batch, command='echo "ok $PULSE_WORKER_NAME"', timeout=120):
    e = run([execute('roll', command, ['group:' + GROUP], batch=batch)],
            prefix='batch')
    require('started', e is not None and 'id' in e, e)
    return wait_execution(e['id'], timeout=timeout)


def by_batch(step):
    out = {}
    for d in step['dispatches']:
        out.setdefault(d['batch'], []).append(d)
    return out


def in_order(step, what):
    """Each batch's first start is after the previous batch's last end."""
    groups = by_batch(step)
    ran = sorted(k for k, ds in groups.items()
                 if all(d['status'] != 'skipped' for d in ds))
    for a, b in zip(ran, ran[1:]):
        last_end = max(d['finished_at'] for d in groups[a])
        first_start = min(d['started_at'] for d in groups[b])
        check('%s: batch %d starts (%s) after batch %d ended (%s)' %
              (what, b, first_start, a, last_end), first_start > last_end)


# --- a rolling update whose batch 2 fails twice, max_failures 1 ---------
bad = [NAMES[6], NAMES[8]]          # the 7th and 9th: both in batch 2
e = run_batched({'size': 5, 'max_failures': 1}, failing_on(bad))
st = e['steps'][0]
groups = by_batch(st)
check('rolling: execution failed', e['status'] == 'failed', e['status'])
check('rolling: step failed', st['status'] == 'failed', st['status'])
check('rolling: the reason says max_failures was exceeded',
      'exceeded max_failures 1' in (st['reason'] or '') and
      '10 remaining target(s) skipped' in (st['reason'] or ''),
      st['reason'])
check('rolling: step batch', st['batch'] == {
    'index': 2, 'count': 4, 'failures': 2, 'max_failures': 1,
    'sizes': [5, 5, 5, 5]}, st['batch'])
check('rolling: 20 dispatches, one per worker',
      sorted(d['worker_name'] for d in st['dispatches']) == NAMES,
      [d['worker_name'] for d in st['dispatches']])
check('rolling: batches walk the targets in name order',
      all(sorted(d['worker_name'] for d in groups.get(k + 1, [])) ==
          NAMES[5 * k:5 * k + 5] for k in range(4)),
      {k: [d['worker_name'] for d in v] for k, v in groups.items()})
check('rolling: batch 1 succeeded',
      [d['status'] for d in groups.get(1, [])] == ['succeeded'] * 5,
      groups.get(1))
b2 = {d['worker_name']: d['status'] for d in groups.get(2, [])}
check('rolling: batch 2 ran, its two bad workers failed',
      sorted(n for n, s in b2.items() if s == 'failed') == sorted(bad) and
      sorted(n for n, s in b2.items() if s == 'succeeded') ==
      sorted(set(NAMES[5:10]) - set(bad)), b2)
skipped = groups.get(3, []) + groups.get(4, [])
check('rolling: batches 3 and 4 skipped (10 targets)',
      len(skipped) == 10 and all(d['status'] == 'skipped' for d in skipped),
      [(d['worker_name'], d['status']) for d in skipped])
check('rolling: a skipped target says why',
      all(d['error'] == 'skipped: 2 failures exceeded max_failures 1'
          and d['started_at'] is None and d['exit_code'] is None
          for d in skipped), skipped[:1])
in_order(st, 'rolling')

# --- a canary: 1, then 10 % (2), then the rest (17) ---------------------
e = run_batched({'size': [1, '10%', '100%']})
st = e['steps'][0]
groups = by_batch(st)
check('canary: completed', e['status'] == 'completed', e.get('error'))
check('canary: sizes 1, 2, 17', st['batch'] is not None and
      st['batch']['sizes'] == [1, 2, 17] and st['batch']['count'] == 3 and
      st['batch']['index'] == 3 and st['batch']['failures'] == 0,
      st['batch'])
check('canary: dispatches per batch 1, 2, 17',
      [len(groups.get(k, [])) for k in (1, 2, 3)] == [1, 2, 17],
      {k: len(v) for k, v in groups.items()})
check('canary: every target succeeded once',
      sorted(d['worker_name'] for d in st['dispatches']) == NAMES and
      all(d['status'] == 'succeeded' for d in st['dispatches']))
in_order(st, 'canary')

# --- a percentage size, with a pause between batches ---------------------
PAUSE = 1500
e = run_batched({'size': '50%', 'pause': PAUSE})
st = e['steps'][0]
groups = by_batch(st)
check('pause: completed', e['status'] == 'completed', e.get('error'))
check('pause: "50%" of 20 is two batches of 10',
      st['batch']['sizes'] == [10, 10] and
      [len(groups.get(k, [])) for k in (1, 2)] == [10, 10], st['batch'])
if groups.get(1) and groups.get(2):
    from datetime import datetime

    def t(s):
        return datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ')
    gap = (t(min(d['queued_at'] for d in groups[2])) -
           t(max(d['finished_at'] for d in groups[1]))).total_seconds()
    check('pause: batch 2 queued at least %d ms after batch 1 ended '
          '(%.3f s)' % (PAUSE, gap), gap * 1000 >= PAUSE)
in_order(st, 'pause')

# --- max_failures within bounds: the step succeeds ----------------------
e = run_batched({'size': 10, 'max_failures': '10%'},
                failing_on([NAMES[0], NAMES[15]]))
st = e['steps'][0]
check('within max_failures ("10%" of 20 = 2): completed',
      e['status'] == 'completed' and st['status'] == 'succeeded',
      (e['status'], st['reason']))
check('within max_failures: both batches ran, 2 failed',
      st['batch']['failures'] == 2 and st['batch']['max_failures'] == 2 and
      st['batch']['index'] == 2 and
      sum(d['status'] == 'failed' for d in st['dispatches']) == 2,
      st['batch'])

# --- a step without batch: as before, batch null everywhere --------------
e = run([execute('plain', 'true', ['group:' + GROUP])], prefix='batch')
e = wait_execution(e['id'])
st = e['steps'][0]
check('no batch: completed, batch null, dispatches batch null',
      e['status'] == 'completed' and st['batch'] is None and
      len(st['dispatches']) == 20 and
      all(d['batch'] is None for d in st['dispatches']), st.get('batch'))

# --- cancelled in a pause: the remaining targets are never started ------
e = run([execute('roll', 'true', ['group:' + GROUP],
                 batch={'size': 5, 'pause': 600000})], prefix='batch')


def paused():
    x = execution(e['id'])
    b = x and x['steps'][0]['batch']
    return x if b and b['index'] == 2 else None


x = wait_for(paused, 60, 0.1)
check('cancel: batch 1 ran, the step waits for its pause',
      x is not None and len(x['steps'][0]['dispatches']) == 5, x)
r = call('POST', '/api/executions/%s/cancel' % e['id'], body={})
x = wait_execution(e['id'])
st = x['steps'][0]
check('cancel: cancelled, step cancelled',
      x['status'] == 'cancelled' and st['status'] == 'cancelled',
      (r[0], x['status'], st['status']))
check('cancel: only batch 1 has dispatches (the rest get no rows)',
      sorted(d['worker_name'] for d in st['dispatches']) == NAMES[:5] and
      all(d['batch'] == 1 for d in st['dispatches']), st['dispatches'])

# --- save errors --------------------------------------------------------
for bad_batch, field in [
        ({'size': 0}, 'batch.size'),
        ({'size': '101%'}, 'batch.size'),
        ({'size': '0%'}, 'batch.size'),
        ({'size': []}, 'batch.size'),
        ({'size': 5, 'max_failurez': 1}, 'batch.max_failurez'),
        ({'size': 5, 'pause': -1}, 'batch.pause'),
        ({'size': [5, '0%']}, 'batch.size[1]'),
        ({}, 'batch.size'),
        ('5', 'batch')]:
    r = call('POST', '/api/workflows', body={
        'name': unique('batch-bad'), 'definition': {
            'steps': [{'name': 'ok', 'type': 'wait', 'duration': 1},
                      execute('roll', 'true', ['all'], batch=bad_batch)]}})
    err = r[2] if isinstance(r[2], dict) else {}
    check('save refuses batch %r: 400, step 1, field %s' % (bad_batch, field),
          r[0] == 400 and err.get('step') == 1 and
          err.get('field') == field and field in (err.get('error') or ''),
          r)
done()
