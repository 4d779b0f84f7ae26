#!/usr/bin/env python3
"""Refusing starts under overload (issue 20; README "Overload").

pulse-api answers POST /api/executions 503 with Retry-After while a pushd
is more than PULSE_ADMIT_LAG_MS behind, as control_load says (one row per
pushd, written by its database thread; fcgi-api/admit.c reads it).

The API side, deterministically, with a row of the test's own: a fresh
row past the threshold refuses every start (admin and employee, with an
Idempotency-Key too) with 503, Retry-After = the lag in whole seconds
rounded up (1..30) and a message naming both, and nothing is recorded
(no execution, audit row or key); a row at the threshold, or stale
(older than 3 s), admits. What is exempt while it is behind: answering a
prompt, cancelling, a trigger's hook (202) and a schedule firing.

The pushd side, on the real stack: pushd keeps its row fresh and near 0
when idle; a pushd that is stopped (SIGSTOP) while starts come in
publishes a lag of about the stop once it runs again, then falls back;
eight commands queued on a worker that runs one at a time (they wait
there seconds) are not lag; nor are commands that waited for pushd to
come back and their worker to reattach (pushd killed and restarted).
"""

import datetime
import hashlib
import hmac
import json
import os
import signal
import subprocess
import threading
import time
import uuid

from pulse_test import (at_end, call, check, check_status, create_workflow,
                        ctl, diag, done, have_ctl, prompt_step, require,
                        sql, unique, wait_for)

STACK = os.environ.get('PULSE_STACK', '')
require('PULSE_CTL and PULSE_STACK are set', have_ctl() and STACK)


def threshold():
    """The stack's PULSE_ADMIT_LAG_MS: the environment wins over the
    .env file, as common/config.c reads them; 200 when neither says."""
    v = os.environ.get('PULSE_ADMIT_LAG_MS')
    if v is None:
        with open(os.path.join(STACK, 'pulse.env')) as f:
            for line in f:
                if line.startswith('PULSE_ADMIT_LAG_MS='):
                    v = line.split('=', 1)[1].strip()
    return int(v) if v else 200


THRESH = threshold()
require('PULSE_ADMIT_LAG_MS is on (%d)' % THRESH, THRESH > 0)
FAKE = 'admit-test-' + uuid.uuid4().hex[:8]


def behind(lag, age_s=0):
    """The test's own pushd row: lag ms, written age_s seconds ago."""
    sql("INSERT INTO control_load (node_id, lag_ms, updated_at) VALUES "
        "('%s', %d, NOW(3) - INTERVAL %d SECOND) ON DUPLICATE KEY UPDATE "
        "lag_ms = VALUES(lag_ms), updated_at = VALUES(updated_at)"
        % (FAKE, lag, age_s))


def caught_up():
    sql("DELETE FROM control_load WHERE node_id = '%s'" % FAKE)


at_end(caught_up)


def count(table, where):
    return int(sql('SELECT COUNT(*) FROM %s WHERE %s' % (table, where))[0][0])


def start(wid, user='admin', headers=None):
    return call('POST', '/api/executions', user=user,
                body={'workflow_id': wid}, headers=headers)


def retry_after(r):
    v = r[1].get('Retry-After')
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def err(r):
    return r[2].get('error', '') if isinstance(r[2], dict) else ''


def expect_retry(lag):
    return min(30, max(1, (lag + 999) // 1000))


wf = create_workflow('admit', [prompt_step('Go')])
require('a workflow', wf is not None)
WID = wf['id']

# --- refused, with nothing recorded ---------------------------------------
r = start(WID)
check_status('no row of ours: a start is taken', r, 201)
before = r[2].get('id') if isinstance(r[2], dict) else None
require('... and its execution exists', before is not None, r)

LAG = THRESH + 4321
behind(LAG)
audit0 = count('audit_log', "action = 'execution.start'")
execs0 = count('executions', "workflow_id = '%s'" % WID)
key = 'admit-' + uuid.uuid4().hex
for user in ('admin', 'employee'):
    r = start(WID, user=user)
    check_status('%s: a start while a pushd is %d ms behind (threshold %d)'
                 % (user, LAG, THRESH), r, 503)
    check('... Retry-After is the lag in whole seconds, rounded up (%d)'
          % expect_retry(LAG), retry_after(r) == expect_retry(LAG),
          r[1].get('Retry-After'))
    check('... the JSON error says how far behind and when to retry',
          err(r) == 'PULSE is %d ms behind; retry after %d s'
          % (LAG, expect_retry(LAG)), r[2])
r = start(WID, headers={'Idempotency-Key': key})
check_status('with an Idempotency-Key too', r, 503)
check('nothing was started', count('executions', "workflow_id = '%s'" % WID)
      == execs0)
check('no execution.start audit row',
      count('audit_log', "action = 'execution.start'") == audit0)
check('the Idempotency-Key is not recorded (the retry will start it)',
      count('idempotency_keys', "idem_key = '%s'" % key) == 0)
r = call('POST', '/api/executions', body={'workflow_id': 'nope'})
check_status('refused before the body is looked at (an unknown workflow: '
             'still 503)', r, 503)

for lag, what in ((10 ** 7, 'clamped to 30'), (THRESH + 1, 'at least 1')):
    behind(lag)
    r = start(WID)
    check('%d ms behind: 503, Retry-After %s' % (lag, what),
          r[0] == 503 and retry_after(r) == expect_retry(lag),
          (r[0], r[1].get('Retry-After'), r[2]))

# --- what is not a start of a client is not refused -----------------------
behind(LAG)
r = call('POST', '/api/executions/%s/respond' % before,
         body={'response': 'Yes', 'step': 0})
check('answering a prompt while behind: not refused (%s)' % r[0],
      r[0] in (200, 201), r)


def new_trigger():
    """A trigger on WID, deleted at the end: its answer, or {}."""
    r = call('POST', '/api/triggers', body={'name': unique('admit'),
                                            'workflow_id': WID})
    check_status('a trigger is created (not a start: taken)', r, 201)
    t = r[2] if r[0] == 201 else {}
    if t:
        at_end(lambda: call('DELETE', '/api/triggers/' + t['id']))
    return t


behind(LAG)
trig = new_trigger()
if trig:
    behind(LAG)
    data = json.dumps({'x': 1}).encode()
    mac = hmac.new(trig['secret'].encode(), data,
                   hashlib.sha256).hexdigest()
    r = call('POST', '/hooks/' + trig['id'], user=None, raw=data,
             headers=[('Content-Type', 'application/json'),
                      ('X-Pulse-Signature', 'sha256=' + mac)])
    check_status('a trigger\'s hook while behind is exempt: 202', r, 202)
    hooked = r[2].get('execution_id') if isinstance(r[2], dict) else None
    check('... and its execution exists', hooked is not None and
          count('executions', "id = '%s'" % hooked) == 1, r[2])
    if hooked:
        r = call('POST', '/api/executions/%s/cancel' % hooked, body={})
        check('cancelling while behind: not refused (%s)' % r[0],
              r[0] == 200, r)

# A schedule's fire is pushd's, never pulse-api's POST: exempt.
at = datetime.datetime.now(datetime.timezone.utc) + \
    datetime.timedelta(seconds=3)
sname = unique('admit')
r = call('POST', '/api/schedules', body={
    'name': sname, 'workflow_id': WID,
    'at': at.strftime('%Y-%m-%dT%H:%M:%SZ')})
check_status('a one-shot schedule 3 s ahead', r, 201)
if r[0] == 201:
    sid = r[2]['id']
    at_end(lambda: call('DELETE', '/api/schedules/' + sid))

    def fired():
        behind(LAG)     # kept fresh: a row goes stale after 3 s
        return count('executions', "started_by = 'schedule:%s'" % sname)
    check('... fires while a pushd is behind (schedules are exempt)',
          wait_for(fired, 20, 0.5) == 1)

# --- at the threshold, or stale: taken ------------------------------------
behind(THRESH)
check_status('exactly at the threshold: taken', start(WID), 201)
behind(LAG, age_s=5)
check_status('a row written 5 s ago says nothing: taken', start(WID), 201)
caught_up()
check_status('no row of ours: taken', start(WID), 201)

# --- pushd publishes its own lag ------------------------------------------
NODE = (sql("SELECT pushd_node FROM workers WHERE name = 'local-1' AND "
            "status = 'online'") or [['']])[0][0]
require('local-1 is online on a pushd', NODE not in ('', 'NULL'), NODE)


def mine():
    """(lag_ms, seconds since updated) of this stack's pushd, or None."""
    rows = sql("SELECT lag_ms, TIMESTAMPDIFF(MICROSECOND, updated_at, "
               "NOW(3)) / 1e6 FROM control_load WHERE node_id = '%s'" % NODE)
    return (int(rows[0][0]), float(rows[0][1])) if rows else None


m1 = mine()
check('pushd has its row (node %s), written in the last 2 s' % NODE,
      m1 is not None and m1[1] < 2.0, m1)
time.sleep(1.5)
m2 = mine()
check('... kept fresh while idle', m2 is not None and m2[1] < 2.0, m2)


class Sampler:
    """Reads pushd's row in a thread, every 20 ms, until stopped, on one
    client session of its own: a value stands only until pushd's next
    write (250 ms), and a client started for each read (sql()) took up
    to 1.5 s on a loaded machine."""

    def __init__(self):
        self.seen = []
        self.go = True
        self.p = subprocess.Popen(
            ['mariadb', '--no-defaults', '-uroot', '-S',
             os.path.join(STACK, 'run', 'mysql.sock'), '-N', '-B', '-n',
             'pulse'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        q = ("SELECT COALESCE(MAX(lag_ms), -1) FROM control_load WHERE "
             "node_id = '%s';\n" % NODE)
        while self.go:
            self.p.stdin.write(q)
            self.p.stdin.flush()
            line = self.p.stdout.readline()
            if not line:
                break
            if int(line) >= 0:
                self.seen.append((time.monotonic(), int(line)))
            time.sleep(0.02)

    def stop(self):
        self.go = False
        self.t.join()
        self.p.stdin.close()
        self.p.wait()
        return max([v for _, v in self.seen] or [-1])


def run_on(worker, command, prefix):
    w = create_workflow(prefix, [{'name': 'run', 'type': 'execute',
                                  'targets': [worker], 'command': command}])
    require('workflow %s' % prefix, w is not None)
    return w['id']


def wait_final(ids, timeout=60):
    q = "','".join(ids)

    def all_done():
        return count('executions', "id IN ('%s') AND status IN "
                     "('completed', 'failed', 'cancelled')" % q) == len(ids)
    return wait_for(all_done, timeout, 0.2)


def ids_of(rs):
    return [r[2]['id'] for r in rs if r[0] == 201]


def dispatch_ms(agg, since, until, ids):
    """agg (MIN, MAX) of until - since (dispatch columns) over the
    dispatches of these executions, in ms; 0 when there is none."""
    v = sql("SELECT %s(TIMESTAMPDIFF(MICROSECOND, %s, %s)) DIV 1000 FROM "
            "dispatches WHERE execution_id IN ('%s')"
            % (agg, since, until, "','".join(ids)))
    return int(v[0][0]) if v and v[0][0] != 'NULL' else 0


def not_lag(s, ids, span, at_least, waited_what, why):
    """The executions ids end; their commands waited at least at_least ms
    (span: the aggregate and the two dispatch columns), and yet the
    Sampler s saw pushd publish under 1000 ms."""
    check('... all completed', wait_final(ids, 90))
    time.sleep(1.5)     # past a write of a quiet pushd (every 1 s)
    worst = s.stop()
    waited = dispatch_ms(*span, ids)
    check('%s: %d ms (>= %d)' % (waited_what, waited, at_least),
          waited >= at_least)
    check('... while pushd published at most %d ms (< 1000: %s)'
          % (worst, why), 0 <= worst < 1000, s.seen[-20:])


# A stopped pushd: the commands queued meanwhile wait for it.
quick = run_on('local-1', 'true', 'admit-quick')
pid = int(ctl('pushd-pid').strip())
s = Sampler()
os.kill(pid, signal.SIGSTOP)
try:
    rs = [start(quick) for _ in range(3)]
    time.sleep(2.5)     # after the last start: each waits >= 2.5 s
finally:
    os.kill(pid, signal.SIGCONT)
t_cont = time.monotonic()
ids = ids_of(rs)
check('3 starts taken while pushd was stopped (its row says nothing new)',
      len(ids) == 3, [r[0] for r in rs])
check('... all completed once it runs again', wait_final(ids))


def published_after(t, lo):
    return [v for at_, v in s.seen if at_ >= t and v >= lo]


check('pushd published about the 2.5 s it was stopped (>= 1500 ms) within '
      '3 s', wait_for(lambda: published_after(t_cont, 1500), 3, 0.1),
      s.seen[-20:])
t_high = max([at_ for at_, v in s.seen if v >= 1500] or [t_cont])
check('... then fell back under 200 ms within 3 s',
      wait_for(lambda: [v for at_, v in s.seen if at_ > t_high and v < 200],
               3, 0.1), s.seen[-20:])
diag('pushd stopped 2.5 s: highest lag published %d ms' % s.stop())

# A worker that runs one command at a time, given eight of 0.4 s: they
# wait there (sent, not started) up to ~3 s, which is no lag of pushd's.
slow = unique('admslow')
ctl('worker-start', slow, '', 'MAX_CONCURRENT_TASKS=1')
at_end(lambda: ctl('worker-stop', slow))
check('a worker with MAX_CONCURRENT_TASKS=1 is online',
      wait_for(lambda: count('workers', "name = '%s' AND status = 'online'"
                             % slow) == 1, 60, 0.2))
busy = run_on(slow, 'sleep 0.4', 'admit-busy')
s = Sampler()
rs = [start(busy) for _ in range(8)]
ids = ids_of(rs)
check('8 starts on it taken', len(ids) == 8, [r[0] for r in rs])
not_lag(s, ids, ('MAX', 'sent_at', 'started_at'), 2000,
        'the last command waited on its busy worker',
        'a busy worker is not lag')

# Commands that waited for their worker to come back are not lag either:
# pushd killed, starts queued for local-1, pushd back, local-1 reattached.
ctl('pushd-kill')
rs = [start(quick) for _ in range(3)]
ids = ids_of(rs)
time.sleep(3)
s = Sampler()
ctl('pushd-start')
check('3 starts taken while pushd was down', len(ids) == 3,
      [r[0] for r in rs])
not_lag(s, ids, ('MIN', 'queued_at', 'sent_at'), 3000,
        'they were queued before they were sent',
        'counted from the attach')

done()
