#!/usr/bin/env python3
"""What an outside integrator found (issue 11), kept fixed:
  - a worker written from SPEC section 6 alone: command_result without
    command_id records its step, and acknowledges it;
  - such a worker that reconnects is never sent a command twice (it keeps
    no journal), while one that sends `running` (pulse-worker) is;
  - the deadline holds while the worker stays connected and silent: the
    command ends timed_out, a cancel_command is sent, a late result
    changes nothing;
  - a real pulse-worker whose command's execution vanished (deleted by
    SQL, as retention or a restore does) is acknowledged, not shut out,
    and takes the next command, before and after a restart;
  - deleting a workflow with an unfinished execution is 409; deleting a
    worker ends its open commands at once;
  - a worker that only heartbeats is no target (command_channel false);
  - a new agent with a known worker's name is a replacement candidate,
    pending until an admin accepts it; then it takes the name, visibly.
Such a worker uses the shared WORKER_API_KEY (version 1): it is pending
until an admin accepts it through the API (SPEC section 12), then served
exactly as before.
"""

import atexit
import os
import time
import uuid

import wsclient
from live import execute, execution, online, run, wait_execution, wait_for
from pulse_test import (WORKER_API_KEY, accept, accept_if_pending, at_end,
                        call, check, ctl, diag, done, have_ctl, heartbeat,
                        require, sql, unique)

require('PULSE_WORKER_API_KEY is set', WORKER_API_KEY != '')
require('PULSE_CTL is set', have_ctl())
STACK = os.environ.get('PULSE_STACK', '')


class SpecWorker:
    """A worker that knows SPEC section 6 and nothing else: worker_connect
    with worker_id and worker_name only (journal: also `running`), and
    results without command_id."""

    def __init__(self, name, worker_id=None, journal=False):
        self.id = worker_id or str(uuid.uuid4())
        self.name = name
        self.ws = wsclient.connect('/worker', 'pulse-worker',
                                   headers={'X-API-Key': WORKER_API_KEY})
        hello = {'type': 'worker_connect', 'worker_id': self.id,
                 'worker_name': name}
        if journal:
            hello['running'] = []
        self.ws.send_json(hello)
        self.seen = []
        self.closed = None

    def recv_until(self, pred, timeout):
        """Messages until pred: answers pings as SPEC says; (match, seen)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.closed is None:
            try:
                m = self.ws.recv_json(max(0.1, deadline - time.monotonic()))
            except (wsclient.WSError, OSError) as e:
                # Closed by pushd (e.g. 1008 and why): a failed check.
                self.closed = str(e) or type(e).__name__
                self.seen.append({'closed': self.closed})
                return None
            if m is None:
                continue
            self.seen.append(m)
            if m.get('type') == 'ping':
                self.ws.send_json({'type': 'pong', 'worker_id': self.id})
            if pred(m):
                return m
        return None

    def command(self, timeout=30):
        return self.recv_until(
            lambda m: m.get('type') == 'execute_command', timeout)

    def result(self, cmd, stdout, success=True):
        # Exactly SPEC section 6's fields.
        self.ws.send_json({'type': 'command_result',
                           'execution_id': cmd['execution_id'],
                           'worker_id': self.id, 'success': success,
                           'stdout': stdout, 'stderr': '', 'duration': 12,
                           'timestamp': '2026-12-07T00:00:00Z'})

    def ack(self, timeout=15):
        return self.recv_until(lambda m: m.get('type') == 'result_ack',
                               timeout)

    def close(self):
        try:
            self.ws.close()
        except OSError:
            pass


def worker_row(name=None, worker_id=None):
    r = call('GET', '/api/workers')
    for w in r[2] if r[0] == 200 else []:
        if (name is not None and w['name'] == name) or \
                (worker_id is not None and w['id'] == worker_id):
            return w
    return None


def channel_up(worker_id, timeout=30):
    return wait_for(lambda: (worker_row(worker_id=worker_id) or {}).get(
        'command_channel') is True, timeout)


def first_dispatch(eid):
    e = execution(eid) or {}
    d = (e.get('steps') or [{}])[0].get('dispatches') or []
    return d[0] if d else {}


def forget(w):
    """Delete its row at the end of a passing run."""
    at_end(lambda: call('DELETE', '/api/workers/' + w.id))


def admit(w):
    """The admin accepts a new shared-key worker (it comes in pending)."""
    row = wait_for(lambda: worker_row(worker_id=w.id), 30)
    r = accept(w.id)
    return row, r


# --- a SPEC-only worker's result ----------------------------------------------
S = SpecWorker(unique('ow-spec'))
forget(S)
require('the SPEC-only worker gets a command channel', channel_up(S.id))
row, r = admit(S)
check('with the shared key it came in pending; the admin accepts it',
      row is not None and row.get('state') == 'pending' and r[0] == 200 and
      r[2].get('state') == 'accepted', (row, r))
e = run([execute('Spec', 'echo spec', [S.name])], prefix='ow-spec')
require('an execution targets it', e is not None)
cmd = S.command()
require('it receives execute_command', cmd is not None, S.seen)
S.result(cmd, 'spec\n')
a = S.ack()
check('a result without command_id is acknowledged as recorded',
      a is not None and a.get('status') == 'recorded' and
      a.get('command_id') == cmd['command_id'], a)
x = wait_execution(e['id'], timeout=30)
check('... and its step succeeds with that output',
      x['status'] == 'completed' and first_dispatch(e['id']).get('stdout') ==
      'spec\n', x)

# --- reconnects: at most once for a worker without a journal ----------------
e2 = run([execute('Once', 'echo once', [S.name], timeout=600000)],
         prefix='ow-once')
c2 = S.command()
require('a second command arrives', c2 is not None)
S.close()
S = SpecWorker(S.name, worker_id=S.id)
forget(S)
require('it reconnects', channel_up(S.id))
e3 = run([execute('Next', 'echo next', [S.name])], prefix='ow-next')
c3 = S.command()
require('a new command arrives after the reconnect', c3 is not None)
check('the command it never answered is not sent again (it keeps no '
      'journal: it might run it twice)',
      c3['execution_id'] == e3['id'] and not any(
          m.get('command_id') == c2['command_id'] for m in S.seen), S.seen)
S.result(c3, 'next\n')
S.ack()
S.result(c2, 'late but real\n')
a = S.ack()
check('its late answer to the first still counts',
      a is not None and a.get('status') == 'recorded' and
      wait_execution(e2['id'], timeout=30)['status'] == 'completed', a)

J = SpecWorker(unique('ow-journal'), journal=True)
forget(J)
require('a journaling worker is online', channel_up(J.id))
admit(J)
ej = run([execute('Again', 'echo j', [J.name], timeout=600000)],
         prefix='ow-journal')
cj = J.command()
require('it receives a command', cj is not None)
J.close()
J = SpecWorker(J.name, worker_id=J.id, journal=True)
forget(J)
again = J.command()
check('one that sends running[] gets an unlisted command again, same id',
      again is not None and again['command_id'] == cj['command_id'], again)
J.result(again, 'j\n')
J.ack()

# --- the deadline holds while the socket does --------------------------------
D = SpecWorker(unique('ow-silent'))
forget(D)
require('a silent worker is online', channel_up(D.id))
admit(D)
ed = run([execute('Silent', 'sleep 1', [D.name], timeout=1000)],
         prefix='ow-silent')
cd = D.command()
require('it receives a 1 s command', cd is not None and cd['timeout'] == 1000)
# timeout 1 s + grace (PULSE_DISPATCH_GRACE_MS, 30 s here) + a timer tick.
cancel = D.recv_until(lambda m: m.get('type') == 'cancel_command' and
                      m.get('command_id') == cd['command_id'], 120)
check('past timeout + grace, still connected: a cancel_command comes',
      cancel is not None, D.seen[-5:])
x = wait_execution(ed['id'], timeout=30)
d = first_dispatch(ed['id'])
check('the command ended timed_out (it never said it started), with why',
      d.get('status') == 'timed_out' and
      'never said it started' in (d.get('error') or ''), d)
check('and the execution failed', x['status'] == 'failed', x)
D.result(cd, 'too late\n')
a = D.ack()
check('a late result is acknowledged and changes nothing',
      a is not None and a.get('status') == 'duplicate' and
      first_dispatch(ed['id']).get('status') == 'timed_out' and
      'too late' not in (first_dispatch(ed['id']).get('stdout') or ''), a)

# --- deleting a worker ends its open commands --------------------------------
W = SpecWorker(unique('ow-deleted'))
forget(W)
require('a worker to delete is online', channel_up(W.id))
admit(W)
ew = run([execute('Long', 'sleep 600', [W.name], timeout=600000)],
         prefix='ow-delw')
require('it receives a command', W.command() is not None)
r = call('DELETE', '/api/workers/' + W.id)
check('DELETE of a worker with a running command: 200', r[0] == 200, r)
x = wait_execution(ew['id'], timeout=30)
d = first_dispatch(ew['id'])
check('its command is lost at once, saying who deleted the worker',
      d.get('status') == 'lost' and
      'deleted by admin' in (d.get('error') or '') and
      x['status'] == 'failed', d)

# --- heartbeat only: online, no command channel, no target -------------------
HB = unique('ow-heartbeat')
hb_id = str(uuid.uuid4())
r = heartbeat(HB, worker_id=hb_id)
require('a heartbeat-only worker registers', r[0] == 200, r)
at_end(lambda: call('DELETE', '/api/workers/' + hb_id))
require('the admin accepts it', accept(hb_id)[0] == 200)
row = worker_row(HB)
check('it is online without a command channel',
      row is not None and row['status'] == 'online' and
      row.get('command_channel') is False, row)
l1 = online('local-1', 30)
check('a worker with a socket has one', l1 is not None and
      l1.get('command_channel') is True, l1)
eh = run([execute('HB', 'true', [HB])], prefix='ow-hb')
x = wait_execution(eh['id'], timeout=30)
check('a step targeting it fails at once, naming the command channel',
      x['status'] == 'failed' and 'command channel' in (x.get('error') or ''),
      x.get('error'))
r = call('POST', '/api/workers/%s/command' % hb_id, body={'command': 'true'})
check('a direct command to it: 409 naming the missing channel',
      r[0] == 409 and 'command channel' in str(r[2]), r)

# --- a new agent under a known worker's name ---------------------------------
N = unique('ow-swap')
R1 = SpecWorker(N)
require('the old agent is online', channel_up(R1.id))
admit(R1)
old_id = R1.id
R1.close()
require('and goes offline when it stops', wait_for(
    lambda: (worker_row(worker_id=old_id) or {}).get('status') == 'offline',
    30))
R2 = SpecWorker(N)
forget(R2)
at_end(lambda: call('DELETE', '/api/workers/' + old_id))
require('a new agent (new worker_id) with that name connects',
        channel_up(R2.id), R2.seen)
cand = worker_row(worker_id=R2.id)
check('it is a replacement candidate: pending, under a name of its own, '
      'naming the worker it would replace',
      cand is not None and cand['state'] == 'pending' and
      cand['name'] != N and cand['replaces'] == old_id, cand)
check('the old worker keeps its name meanwhile',
      (worker_row(N) or {}).get('id') == old_id, worker_row(N))
r = accept(R2.id)
check('accepted, the new agent takes the name',
      r[0] == 200 and r[2]['name'] == N and r[2]['state'] == 'accepted', r)
old = worker_row(worker_id=old_id)
check('the old row stays, renamed "NAME (replaced ID8)", revoked',
      old is not None and old['name'] == '%s (replaced %s)' %
      (N, old_id[:8]) and old['state'] == 'revoked', old)
r3 = str(uuid.uuid4())
r = heartbeat(N, worker_id=r3)
at_end(lambda: call('DELETE', '/api/workers/' + r3))
check('a third agent\'s heartbeat with that name: a pending candidate, the '
      'name stays with the accepted one', r[0] == 200 and
      r[2].get('state') == 'pending' and
      (worker_row(N) or {}).get('id') == R2.id and
      (worker_row(worker_id=r3) or {}).get('replaces') == R2.id, r)
R2.close()

# --- a real pulse-worker whose command vanished --------------------------------
AG = unique('ow-agent')
ctl('worker-start', AG, 'ow')
atexit.register(lambda: ctl('worker-stop', AG))	# pass or fail
require('a real pulse-worker is online', online(AG, 60) is not None)
accept_if_pending(AG)
ag_id = worker_row(AG)['id']
at_end(lambda: call('DELETE', '/api/workers/' + ag_id))
ea = run([execute('Slow', 'sleep 3; echo vanished', [AG])], prefix='ow-agent')
wf_id = ea['workflow_id']
require('its command is running', wait_for(
    lambda: first_dispatch(ea['id']).get('status') == 'running', 30))
r = call('DELETE', '/api/workflows/' + wf_id)
check('DELETE of a workflow with a running execution: 409, saying why',
      r[0] == 409 and 'unfinished' in str(r[2]), r)
# What retention, or a restore from before it, does under a running command.
sql("DELETE FROM executions WHERE id = '%s'" % ea['id'])
check('the execution is gone', call('GET', '/api/executions/' +
                                    ea['id'])[0] == 404)


def runs_next(label):
    e = run([execute('Next', 'echo alive', [AG])], prefix='ow-agent')
    x = wait_execution(e['id'], timeout=90)
    check(label, x['status'] == 'completed' and
          first_dispatch(e['id']).get('stdout') == 'alive\n',
          x.get('error') or x['status'])


runs_next('the agent takes the next command (its result for the vanished '
          'one was acknowledged)')
log = os.path.join(STACK, 'log', 'pulse-pushd.log')
with open(log, errors='replace') as f:
    lines = [ln for ln in f if AG in ln]
check('pushd never closed its socket', not any('closing' in ln for ln in
                                              lines),
      [ln for ln in lines if 'closing' in ln][:3])
ctl('worker-stop', AG)
ctl('worker-start', AG, 'ow')
require('it restarts', online(AG, 60) is not None and channel_up(ag_id))
runs_next('after a restart it still takes commands (nothing left to resend)')
spool = os.path.join(STACK, 'workers', AG, 'spool')
check('its spool is empty', os.path.isdir(spool) and not os.listdir(spool),
      os.listdir(spool) if os.path.isdir(spool) else spool)
r = call('DELETE', '/api/workflows/' + wf_id)
check('once nothing is unfinished the workflow deletes (200)', r[0] == 200,
      r)
diag('done')
done()
