#!/usr/bin/env python3
"""GET /api/executions/:a/diff/:b (SPEC section 17): two executions of one
workflow on three real workers whose commands print what files of this
test's temp dir say, changed between the runs: added, removed and changed
lines with their context, a lost final newline, status and exit code
changes, a worker in only one run; an execution against itself is all
same; different workflows compare and say so; a missing one is a 404
naming it, either side; outputs past the ceilings (20,000 lines, 2,000
edits) are too_large with the reason."""

import json
import os
import shutil
import tempfile
import time
import uuid

from live import execute, start_worker, wait_execution
from pulse_test import (at_end, call, check, check_status, create_workflow,
                        ctl, diag, done, require, sql)

tmp = tempfile.mkdtemp(prefix='pulse-diff-')
os.chmod(tmp, 0o755)
at_end(lambda: shutil.rmtree(tmp, ignore_errors=True))

tag = uuid.uuid4().hex[:6]
W = ['diff-%s-%d' % (tag, i) for i in (1, 2, 3)]
for w in W:
    require('worker %s online' % w, start_worker(w, '') is not None)
    at_end(lambda w=w: ctl('worker-stop', w))


def put(name, text):
    with open(os.path.join(tmp, name), 'w') as f:
        f.write(text)


# Each worker prints its own files: out (stdout), err (stderr), code.
REPORT = ('d=%s; cat "$d/$PULSE_WORKER_NAME.out"; '
          'cat "$d/$PULSE_WORKER_NAME.err" >&2; '
          'exit "$(cat "$d/$PULSE_WORKER_NAME.code")"' % tmp)


def lines(n, fmt='line %d'):
    return ''.join((fmt % i) + '\n' for i in range(1, n + 1))


def steps(targets):
    return [execute('same', 'echo unchanged', targets),
            execute('report', REPORT, targets)]


def run(wid):
    r = call('POST', '/api/executions', body={'workflow_id': wid})
    check_status('start an execution', r, 201)
    return wait_execution(r[2]['id'], timeout=90)


def diff(a, b, user='employee'):
    return call('GET', '/api/executions/%s/diff/%s' % (a, b), user=user)


def worker(step, name):
    for w in step['workers']:
        if w['worker_name'] == name:
            return w
    return None


def ops(stream):
    return [(l['op'], l['text'], l.get('no_newline', False))
            for h in stream['hunks'] for l in h['lines']]


# ------------------------------------------------------------ run 1
wf = create_workflow('diff', steps(W))
require('workflow saved', wf is not None)
put(W[0] + '.out', lines(10))
put(W[0] + '.err', 'warn: disk 81%\n')
put(W[0] + '.code', '0')
put(W[1] + '.out', 'alpha\nbeta\n')
put(W[1] + '.err', 'e1\n')
put(W[1] + '.code', '0')
put(W[2] + '.out', 'only in a\n')
put(W[2] + '.err', '')
put(W[2] + '.code', '0')
e1 = run(wf['id'])
check('run 1 completed', e1['status'] == 'completed', e1)

# ------------------------------------------------------------ run 2
# w1: line 3 changed, line 6 removed, a line added at the end, stderr
# gone; w2: same stdout, exit 2, stderr without its final newline; w3 no
# longer a target.
r = call('PUT', '/api/workflows/' + wf['id'],
         body={'name': wf['name'], 'definition': {'steps': steps(W[:2])}})
check_status('the workflow drops worker 3', r, 200)
put(W[0] + '.out', 'line 1\nline 2\nline three\nline 4\nline 5\n'
    'line 7\nline 8\nline 9\nline 10\nline 11\n')
put(W[0] + '.err', '')
put(W[1] + '.code', '2')
put(W[1] + '.err', 'e1')
e2 = run(wf['id'])
check('run 2 failed (worker 2 exits 2)', e2['status'] == 'failed', e2)

r = diff(e1['id'], e2['id'])
check_status('diff of run 1 and run 2 as an employee', r, 200)
d = r[2]
check('a and b name the executions, their workflow and versions',
      d['a']['id'] == e1['id'] and d['b']['id'] == e2['id'] and
      d['a']['workflow_id'] == wf['id'] and
      d['a']['workflow_name'] == wf['name'] and
      d['a']['workflow_version'] == 1 and d['b']['workflow_version'] == 2 and
      d['a']['status'] == 'completed' and d['b']['status'] == 'failed' and
      d['a']['started_at'] and d['b']['started_at'], [d['a'], d['b']])
check('same workflow, no note', d['same_workflow'] is True and
      d['note'] is None, d)
check('two steps matched by index and name',
      [(s['index'], s['name']) for s in d['steps']] ==
      [(0, 'same'), (1, 'report')], d['steps'])
s0, s1 = d['steps'][0], d['steps'][1]
check('step 0 succeeded in both (changed: w3 ran it only in a)',
      s0['a_status'] == 'succeeded' and s0['b_status'] == 'succeeded' and
      s0['changed'] is True, s0)
check('step 0: w1 and w2 unchanged, output same',
      all(not worker(s0, w)['changed'] and worker(s0, w)['stdout']['same']
          and worker(s0, w)['stdout']['hunks'] == [] for w in W[:2]), s0)
check('step 1: succeeded -> failed, changed',
      s1['a_status'] == 'succeeded' and s1['b_status'] == 'failed' and
      s1['changed'] is True, s1)
check('step 1 lists the three workers by name',
      [w['worker_name'] for w in s1['workers']] == sorted(W), s1['workers'])

w1 = worker(s1, W[0])
check('w1 changed, same status and exit code',
      w1['changed'] and w1['a'] == {'status': 'succeeded', 'exit_code': 0}
      and w1['b'] == {'status': 'succeeded', 'exit_code': 0}, w1)
check('w1 stdout: not same, not too large, one hunk',
      not w1['stdout']['same'] and not w1['stdout']['too_large'] and
      len(w1['stdout']['hunks']) == 1, w1['stdout'])
if len(w1['stdout']['hunks']) == 1:
    h = w1['stdout']['hunks'][0]
    check('w1 hunk numbered -1,10 +1,10',
          (h['a_start'], h['a_lines'], h['b_start'], h['b_lines']) ==
          (1, 10, 1, 10), h)
    check('w1: line 3 changed, line 6 removed, line 11 added, in context',
          ops(w1['stdout']) == [
              (' ', 'line 1', False), (' ', 'line 2', False),
              ('-', 'line 3', False), ('+', 'line three', False),
              (' ', 'line 4', False), (' ', 'line 5', False),
              ('-', 'line 6', False), (' ', 'line 7', False),
              (' ', 'line 8', False), (' ', 'line 9', False),
              (' ', 'line 10', False), ('+', 'line 11', False)],
          ops(w1['stdout']))
check('w1 stderr: its line removed',
      ops(w1['stderr']) == [('-', 'warn: disk 81%', False)], w1['stderr'])

w2 = worker(s1, W[1])
check('w2: succeeded exit 0 -> failed exit 2',
      w2['changed'] and w2['a'] == {'status': 'succeeded', 'exit_code': 0}
      and w2['b'] == {'status': 'failed', 'exit_code': 2}, w2)
check('w2 stdout same (status changes alone)',
      w2['stdout']['same'] and w2['stdout']['hunks'] == [], w2['stdout'])
check('w2 stderr: the lost final newline shows',
      ops(w2['stderr']) == [('-', 'e1', False), ('+', 'e1', True)],
      w2['stderr'])

w3 = worker(s1, W[2])
check('w3 ran only in a: b is null, changed',
      w3 is not None and w3['a'] == {'status': 'succeeded', 'exit_code': 0}
      and w3['b'] is None and w3['changed'], w3)
check('w3 stdout: its lines removed',
      w3 and ops(w3['stdout']) == [('-', 'only in a', False)],
      w3 and w3['stdout'])
check('w3 stderr: both empty, same', w3 and w3['stderr']['same'], w3)

r = diff(e2['id'], e1['id'])
check_status('the reverse diff', r, 200)
rw1 = worker(r[2]['steps'][1], W[0])
check('reversed: + and - swap',
      [(o, t) for o, t, _ in ops(rw1['stdout'])] ==
      [(' ', 'line 1'), (' ', 'line 2'), ('-', 'line three'),
       ('+', 'line 3'), (' ', 'line 4'), (' ', 'line 5'), ('+', 'line 6'),
       (' ', 'line 7'), (' ', 'line 8'), (' ', 'line 9'), (' ', 'line 10'),
       ('-', 'line 11')], ops(rw1['stdout']))
check('reversed: w3 has a null, b the row',
      worker(r[2]['steps'][1], W[2])['a'] is None, r[2]['steps'][1])

# ------------------------------------------------------------ identical
r = diff(e1['id'], e1['id'])
check_status('an execution against itself', r, 200)
check('against itself: nothing changed, every stream same',
      all(not s['changed'] and all(not w['changed'] and w['stdout']['same']
                                   and w['stderr']['same'] and
                                   not w['stdout']['hunks']
                                   for w in s['workers'])
          for s in r[2]['steps']) and len(r[2]['steps']) == 2, r[2])

# ------------------------------------------------------------ other workflow
other = create_workflow('diff-other', [execute('first', 'echo other', W[:1])])
e3 = run(other['id'])
r = diff(e1['id'], e3['id'])
check_status('executions of different workflows compare', r, 200)
check('different workflows: same_workflow false, the note says so',
      r[2]['same_workflow'] is False and r[2]['note'] ==
      'the executions ran different workflows: steps are matched by '
      'position and name', r[2])
st = r[2]['steps']
check('step 0 matched by position; b\'s name shown',
      st[0]['name'] == 'same' and st[0].get('b_name') == 'first' and
      st[0]['changed'], st[0])
check('step 1 only in a: b_status null',
      len(st) == 2 and st[1]['a_status'] == 'succeeded' and
      st[1]['b_status'] is None and st[1]['changed'], st)
check('its worker rows have b null',
      all(w['b'] is None for w in st[1]['workers']), st[1])

# ------------------------------------------------------------ missing
nobody = str(uuid.uuid4())
r = diff(nobody, e1['id'])
check_status('a missing: 404', r, 404)
check('404 names a and its id', r[2].get('missing') == ['a'] and
      nobody in r[2].get('error', ''), r[2])
r = diff(e1['id'], nobody)
check_status('b missing: 404', r, 404)
check('404 names b and its id', r[2].get('missing') == ['b'] and
      nobody in r[2].get('error', ''), r[2])
r = diff('not-an-id', nobody)
check_status('both missing: 404', r, 404)
check('404 names both', r[2].get('missing') == ['a', 'b'], r[2])
r = call('GET', '/api/executions/%s/diff/%s' % (e1['id'], e2['id']),
         user='outsider')
check_status('a user without a role: 403', r, 403)

# ------------------------------------------------------------ too large
# stdout: 25,000 lines (past 20,000); stderr: 1,500 lines all replaced
# (3,000 edits, past 2,000).
big = create_workflow('diff-big', [execute('big', REPORT, W[:1])])
put(W[0] + '.out', lines(25000))
put(W[0] + '.err', lines(1500, 'old %d'))
put(W[0] + '.code', '0')
b1 = run(big['id'])
put(W[0] + '.out', lines(25000, 'new %d'))
put(W[0] + '.err', lines(1500, 'new %d'))
b2 = run(big['id'])
check('both big runs completed', b1['status'] == 'completed' and
      b2['status'] == 'completed', [b1['status'], b2['status']])
r = diff(b1['id'], b2['id'])
check_status('diff of the big runs', r, 200)
bw = worker(r[2]['steps'][0], W[0])
check('25,000 lines: too_large, no hunks, the reason counts them',
      bw['stdout']['too_large'] and bw['stdout']['hunks'] == [] and
      not bw['stdout']['same'] and 'a has 25000 lines, more than the '
      '20000' in bw['stdout'].get('reason', ''), bw['stdout'])
check('3,000 edits: too_large, the reason names the 2,000',
      bw['stderr']['too_large'] and bw['stderr']['hunks'] == [] and
      'more than 2000 lines were removed or added' in
      bw['stderr'].get('reason', ''), bw['stderr'])
check('the worker changed', bw['changed'], bw)
r = diff(b1['id'], b1['id'])
check('25,000 identical lines: same, not too large (bytes compared first)',
      r[0] == 200 and worker(r[2]['steps'][0], W[0])['stdout'] ==
      {'same': True, 'too_large': False, 'hunks': []}, r[2])

# ------------------------------------------------------------ 1,000 workers
# PULSE_DIFF_WORKERS_MAX: a step is compared on at most 1,000 workers a
# side. Rows of workers that do not exist stand in for a fleet (nothing
# reads a finished dispatch but the views); they go with the workflow.


def fleet(eid, first, last):
    sql("INSERT INTO dispatches (id, execution_id, step_index, worker_id, "
        "worker_name, attempt, command, timeout_ms, status, exit_code, "
        "stdout) SELECT UUID(), '%s', 0, UUID(), "
        "CONCAT('fleet-', LPAD(seq, 4, '0')), 1, 'true', 1000, 'succeeded', "
        "0, 'ok\\n' FROM seq_%d_to_%d" % (eid, first, last))


fleet(b1['id'], 1, 999)
t0 = time.monotonic()
r = diff(b1['id'], b1['id'])
check_status('a step on 1,000 workers against itself', r, 200)
diag('1,000 workers compared in %.2f s (ASan build)' %
     (time.monotonic() - t0))
st0 = r[2]['steps'][0]
check('1,000 workers listed, all same, no too_large',
      len(st0['workers']) == 1000 and 'too_large' not in st0 and
      not st0['changed'] and all(w['stdout']['same'] and w['stderr']['same']
                                 for w in st0['workers']), st0.get('reason'))
fleet(b1['id'], 1000, 1000)
r = diff(b1['id'], b2['id'])
check_status('1,001 workers in a', r, 200)
st0 = r[2]['steps'][0]
check('1,001: the step is too_large, says why, lists no workers',
      st0.get('too_large') is True and st0['workers'] == [] and
      st0['changed'] and st0.get('reason') ==
      'the step ran on more than 1000 workers in a', st0)

# ------------------------------------------------------------ request budget
# Each stream: 12,000 lines, then a line added after every 6th (2,000
# edits, the most a diff takes, one hunk of all but the first 3 lines). Two
# steps on three workers are 12 streams; a request shows at most 100,000
# lines, so the first 7 are diffed (98,000 lines) and the rest say why not.
BUDGET = 'cat %s/budget; cat %s/budget >&2' % (tmp, tmp)
bud = create_workflow('diff-budget', [execute('one', BUDGET, W),
                                      execute('two', BUDGET, W)])
put('budget', lines(12000))
u1 = run(bud['id'])
put('budget', ''.join('line %d\n' % i + ('added %d\n' % i if i % 6 == 0
                                          else '')
                      for i in range(1, 12001)))
u2 = run(bud['id'])
check('both budget runs completed', u1['status'] == 'completed' and
      u2['status'] == 'completed', [u1['status'], u2['status']])
t0 = time.monotonic()
r = diff(u1['id'], u2['id'])
check_status('diff of the budget runs', r, 200)
diag('the diff at the request budget took %.2f s (ASan build)' %
     (time.monotonic() - t0))
streams = [w[k] for s in r[2]['steps'] for w in s['workers']
           for k in ('stdout', 'stderr')]
shown = [sum(len(h['lines']) for h in x['hunks']) for x in streams]
check('12 streams compared', len(streams) == 12, len(streams))
check('the first 7 diffed in full: 13,997 lines each (not lines 1-3)',
      shown[:7] == [13997] * 7 and
      not any(x['too_large'] for x in streams[:7]), shown)
check('the other 5: too_large, the request\'s 100,000 lines shown',
      all(x['too_large'] and x['hunks'] == [] and
          'already shows the 100000 lines' in x.get('reason', '')
          for x in streams[7:]), [x.get('reason') for x in streams[7:]])

# ------------------------------------------------------------ pairs budget
# PULSE_DIFF_PAIRS_MAX: one request lists at most 5,000 worker pairs. Two
# executions of 6 steps on 1,000 workers, one line different on each
# (rows by SQL, hashed as the writers hash them): the first 5 steps are
# diffed (5,000 pairs), the 6th is too_large with the reason and not
# read. Before the ceiling every pair was diffed: 40 steps of 1,000 took
# 24.8 s and answered 16.9 MB.


def synthetic(wid, word, nsteps, nworkers, status='succeeded'):
    eid = str(uuid.uuid4())
    sql("INSERT INTO executions (id, workflow_id, status, started_by, "
        "started_at, completed_at) VALUES ('%s', '%s', 'completed', "
        "'employee', NOW(), NOW())" % (eid, wid))
    sql("INSERT INTO execution_steps (execution_id, step_index, name, type, "
        "status) SELECT '%s', seq, CONCAT('s', seq), 'execute', "
        "'completed' FROM seq_0_to_%d" % (eid, nsteps - 1))
    out = "'same\\nline %s\\n'" % word
    final = status not in ('queued', 'sent', 'running')
    sql("INSERT INTO dispatches (id, execution_id, step_index, worker_id, "
        "worker_name, attempt, command, timeout_ms, status, exit_code, "
        "stdout, stderr, stdout_sha256, stderr_sha256) SELECT UUID(), '%s', "
        "seq DIV %d, UUID(), CONCAT('pair-', LPAD(seq MOD %d, 4, '0')), 1, "
        "'true', 1000, '%s', %s, %s, %s, %s, %s FROM seq_0_to_%d"
        % (eid, nworkers, nworkers, status, '0' if final else 'NULL',
           out if final else 'NULL', "''" if final else 'NULL',
           'SHA2(%s, 256)' % out if final else 'NULL',
           "SHA2('', 256)" if final else 'NULL',
           nsteps * nworkers - 1))
    return eid


p1 = synthetic(bud['id'], 'a', 6, 1000)
p2 = synthetic(bud['id'], 'b', 6, 1000)
t0 = time.monotonic()
r = diff(p1, p2)
took = time.monotonic() - t0
check_status('diff of 6 steps x 1,000 workers', r, 200)
size = len(json.dumps(r[2]))
diag('6 steps x 1,000 workers, one line changed each: %.2f s, %d bytes '
     '(ASan build)' % (took, size))
ss = r[2]['steps']
check('6 steps answered', len(ss) == 6, len(ss))
check('the first 5 steps: 1,000 workers each, each one line changed',
      all(len(s['workers']) == 1000 and 'too_large' not in s and
          all(w['stdout']['same'] is False and
              w['stdout']['too_large'] is False and
              [(x['op'], x['text']) for x in w['stdout']['hunks'][0]['lines']]
              == [(' ', 'same'), ('-', 'line a'), ('+', 'line b')] and
              w['stderr']['same'] is True for w in s['workers'])
          for s in ss[:5]), [len(s['workers']) for s in ss])
check('the 6th step: too_large with the pairs reason, not read',
      ss[5].get('too_large') is True and ss[5]['workers'] == [] and
      ss[5]['changed'] is True and ss[5].get('reason') ==
      'this comparison already lists the 5000 worker pairs one '
      'comparison may list', {k: ss[5].get(k) for k in ('too_large',
                                                        'reason')})
listed = sum(len(s['workers']) for s in ss)
check('the answer is bounded: 5,000 pairs listed of 6,000, under 500 '
      'bytes each', listed == 5000 and size < 5000 * 500, (listed, size))

# Two dispatches still running: no output stored yet (NULL both), but
# what they print differs live: not known equal.
q1 = synthetic(bud['id'], 'a', 1, 1, status='running')
q2 = synthetic(bud['id'], 'b', 1, 1, status='running')
r = diff(q1, q2)
check_status('diff of two running executions', r, 200)
rw = r[2]['steps'][0]['workers'][0]
check('running streams: not same, running: true, no hunks',
      all(rw[k] == {'same': False, 'too_large': False, 'running': True,
                    'hunks': []} for k in ('stdout', 'stderr')) and
      rw['changed'] is True, rw)

done()
