"""The fault suite's common ground: known commands, the start ledger they
append to, and the checker of DESIGN.md section 8's nine invariants.

A fault scenario builds its steps with Invariants.step_command(), starts
executions with Invariants.start() (or records what it started itself with
ack_execution / ack_answer), does its damage, then calls check_all(): one
TAP check per invariant, each with a diagnostic naming what broke.

    inv = Invariants('pushd-kill')
    steps = [inv.execute('s%d' % i, seed=i, nbytes=51200, sleep_s=0.2,
                         targets=['demo']) for i in range(100)]
    e = inv.start(steps)
    ... faults ...
    inv.check_all()

A step command is `: pulse-fault s=SEED n=NBYTES x=EXIT;` followed by a
ledger append (one line per start, written with O_APPEND in one write:
"execution:step:attempt:worker", from the PULSE_* variables pulse-worker
gives every command), an optional sleep, NBYTES of deterministic text on
stdout and `exit EXIT`. The checker reads seed, size and exit code back from
the command stored in the dispatch row, so it needs no other bookkeeping.
"""

import hashlib
import json
import os
import re
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))

from pulse_test import (call, check, create_workflow, diag, origin,  # noqa
                        sql, wait_for)

OUTPUT_CAP = int(os.environ.get('PULSE_OUTPUT_CAP', 1024 * 1024))
HEARTBEAT_S = 5         # the stack's workers (pulse-dev worker_start)
GRACE_S = 30            # PULSE_DISPATCH_GRACE_MS default
POLL_S = 2              # pushd's slowest poll, with room
FINAL = ('completed', 'failed', 'cancelled')
OPEN_DISPATCH = ('queued', 'sent', 'running')
ALPHABET = (b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
            b'0123456789+/')
MARK_RE = re.compile(r'^: pulse-fault s=(\d+) n=(\d+) x=(\d+);')
UUID_RE = re.compile(r'^[0-9a-f-]{36}$')


# --- known output ----------------------------------------------------------

def known_output(seed, nbytes):
    """A shell fragment printing nbytes deterministic bytes for seed:
    64-character lines of a small LCG (exact in mawk's doubles and in gawk)
    over a base64 alphabet, every 65th byte a newline, no final newline
    unless it falls there. known_bytes() computes the same bytes."""
    return ("awk -v s=%d -v n=%d 'BEGIN{a=\"%s\";x=s%%65537;l=\"\";"
            "for(i=1;i<=n;i++){if(i%%65==0){printf \"%%s\\n\",l;l=\"\"}"
            "else{x=(x*75+74)%%65537;l=l substr(a,x%%64+1,1)}}"
            "printf \"%%s\",l}'" % (seed, nbytes, ALPHABET.decode()))


_known_cache = {}


def known_bytes(seed, nbytes):
    """The bytes known_output(seed, nbytes) prints."""
    key = (seed, nbytes)
    if key in _known_cache:
        return _known_cache[key]
    out = bytearray(nbytes)
    x = seed % 65537
    for i in range(1, nbytes + 1):
        if i % 65 == 0:
            out[i - 1] = 10
        else:
            x = (x * 75 + 74) % 65537
            out[i - 1] = ALPHABET[x % 64]
    b = bytes(out)
    if len(_known_cache) > 64:
        _known_cache.clear()
    _known_cache[key] = b
    return b


def known_sha256(seed, nbytes, prefix=None):
    """sha256 of the first `prefix` (default all) known bytes."""
    b = known_bytes(seed, nbytes)
    return hashlib.sha256(b if prefix is None else b[:prefix]).hexdigest()


# --- gates -------------------------------------------------------------------

class Gate:
    """A file a step command waits for (step_command's gate): the test,
    not a sleep, decides when the command goes on."""

    def __init__(self, name='gate'):
        base = os.environ.get('PULSE_STACK') or '/tmp'
        self.path = os.path.join(base, 'fault-gate-%s-%s'
                                 % (name, uuid.uuid4().hex[:8]))

    def open(self):
        with open(self.path, 'w'):
            pass
        os.chmod(self.path, 0o644)

    def remove(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass


# --- the ledger --------------------------------------------------------------

class Ledger:
    """A file under the stack's directory that every step command appends
    one line to when it starts: execution:step:attempt:worker."""

    def __init__(self, name='fault'):
        base = os.environ.get('PULSE_STACK') or '/tmp'
        self.path = os.path.join(base, 'fault-ledger-%s-%s.log'
                                 % (name, uuid.uuid4().hex[:8]))
        fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND,
                     0o666)
        os.close(fd)
        os.chmod(self.path, 0o666)  # workers may run as another user

    def fragment(self):
        return ('echo "$PULSE_EXECUTION_ID:$PULSE_STEP_INDEX:'
                '$PULSE_ATTEMPT:$PULSE_WORKER_NAME" >> %s' % self.path)

    def lines(self):
        try:
            with open(self.path) as f:
                return [x for x in f.read().split('\n') if x]
        except OSError:
            return []

    def entries(self):
        """[(execution, step, attempt, worker)] in file order."""
        out = []
        for line in self.lines():
            p = line.split(':', 3)
            if len(p) == 4:
                out.append(tuple(p))
            else:
                out.append((line, '', '', ''))
        return out

    def remove(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass


def step_command(ledger, seed, nbytes, sleep_s=0, exit_code=0, gate=None):
    """The shell command of one known step (see the module's comment).
    gate: a path; the command waits until it exists (Gate.open()) before
    its output, so that the test decides when it ends."""
    parts = [': pulse-fault s=%d n=%d x=%d;' % (seed, nbytes, exit_code),
             ledger.fragment()]
    if sleep_s:
        parts.append('sleep %s' % sleep_s)
    if gate:
        parts.append('while [ ! -e %s ]; do sleep 0.1; done' % gate)
    parts.append(known_output(seed, nbytes))
    parts.append('exit %d' % exit_code)
    return parts[0] + ' ' + '; '.join(parts[1:])


def parse_command(command):
    """(seed, nbytes, exit_code) of a step command, or None."""
    m = MARK_RE.match(command or '')
    return tuple(int(x) for x in m.groups()) if m else None


# --- database helpers --------------------------------------------------------

def _in_list(ids):
    ids = [i for i in ids if UUID_RE.match(i)]
    return ','.join("'%s'" % i for i in ids) or "''"


def sql_retry(statement, tries=30):
    """sql() that waits for MariaDB to come back (a fault may have
    stopped it); the last error is raised."""
    err = None
    for _ in range(tries):
        try:
            return sql(statement)
        except Exception as e:  # CtlError, timeout
            err = e
            time.sleep(2)
    raise err


def _chunks(ids, n=200):
    ids = list(ids)
    for i in range(0, len(ids), n):
        yield ids[i:i + n]


def _null(v):
    return None if v in (None, 'NULL', '\\N') else v


# --- the checker ----------------------------------------------------------------

class Invariants:
    """What a fault scenario did that the database must now show."""

    def __init__(self, name='fault'):
        self.name = name
        self.ledger = Ledger(name)
        self.executions = []        # ids, in start order
        self.acked = set()          # executions whose start got a 2xx
        self.answers = {}           # (execution, step) -> (response, user)
        self.waiting_ok = set()     # executions left waiting on purpose
        self.cond_steps = {}        # workflow step index -> previous index
        self.floor = self._max_event()
        self.workflows = []
        # One TAP check per invariant; a self-test swaps in a collector.
        self.check = check

    # -- building -----------------------------------------------------------

    def step_command(self, seed, nbytes, sleep_s=0, exit_code=0, gate=None):
        return step_command(self.ledger, seed, nbytes, sleep_s, exit_code,
                            gate)

    def execute(self, name, seed, nbytes, sleep_s=0, exit_code=0,
                targets=('all',), timeout_ms=60000, cond_prev=False,
                index=None, gate=None):
        """An execute step running step_command(). cond_prev: the step
        has a condition that holds only when the previous step (index-1)
        succeeded, so invariant 7 can check a condition saw it."""
        s = {'name': name, 'type': 'execute', 'targets': list(targets),
             'command': self.step_command(seed, nbytes, sleep_s, exit_code,
                                          gate),
             'timeout': timeout_ms}
        if cond_prev:
            if index is None or index < 1:
                raise ValueError('cond_prev needs the step index')
            s['condition'] = "state.steps[%d].status === 'succeeded'" \
                % (index - 1)
            self.cond_steps[index] = index - 1
        return s

    def workflow(self, steps, prefix=None):
        wf = create_workflow(prefix or 'fault-' + self.name, steps)
        if wf:
            self.workflows.append(wf['id'])
        return wf

    def start(self, steps_or_wf, user='admin', headers=None):
        """Start an execution (of a workflow id/dict or a list of steps);
        records it as acknowledged when the answer is 2xx. Returns the
        execution JSON or None."""
        wf = steps_or_wf
        if isinstance(wf, list):
            wf = self.workflow(wf)
        if isinstance(wf, dict):
            wf = wf.get('id')
        if not wf:
            return None
        r = call('POST', '/api/executions', user=user,
                 body={'workflow_id': wf}, headers=headers)
        if 200 <= r[0] < 300 and isinstance(r[2], dict) and r[2].get('id'):
            self.ack_execution(r[2]['id'])
            return r[2]
        diag('start of %s: %s %s' % (wf, r[0], str(r[2])[:200]))
        return None

    def ack_execution(self, eid):
        """An execution whose creation was answered 2xx."""
        if eid not in self.acked:
            self.acked.add(eid)
            self.executions.append(eid)

    def track(self, eid):
        """An execution to check whose start was not (or not surely)
        acknowledged: it must be consistent if it exists."""
        if eid not in self.executions:
            self.executions.append(eid)

    def ack_answer(self, eid, step, response, user='admin'):
        """A prompt answer that was answered 2xx."""
        self.answers[(eid, int(step))] = (response, user)

    def allow_waiting(self, eid):
        """This execution is left waiting on a prompt on purpose."""
        self.waiting_ok.add(eid)

    # -- reading -------------------------------------------------------------

    @staticmethod
    def _max_event():
        try:
            rows = sql_retry('SELECT COALESCE(MAX(id), 0) FROM events', 5)
            return int(rows[0][0])
        except Exception:
            return 0

    def _rows(self, template, cols):
        """Rows of template % (the IN list) over all tracked executions,
        as dicts of cols."""
        out = []
        for chunk in _chunks(self.executions):
            for r in sql_retry(template % _in_list(chunk)):
                out.append(dict(zip(cols, [_null(v) for v in r])))
        return out

    def statuses(self):
        return {r['id']: r for r in self._rows(
            'SELECT id, status, error FROM executions WHERE id IN (%s)',
            ('id', 'status', 'error'))}

    def dispatches(self):
        cols = ('id', 'execution_id', 'step_index', 'worker_id',
                'worker_name', 'attempt', 'status', 'exit_code', 'signal',
                'stdout_len', 'stdout_sha', 'stdout_bytes',
                'stdout_truncated', 'error', 'queued_at', 'finished_at',
                'command')
        rows = self._rows(
            'SELECT id, execution_id, step_index, worker_id, worker_name, '
            'attempt, status, exit_code, `signal`, LENGTH(stdout), '
            'SHA2(stdout, 256), stdout_bytes, stdout_truncated, '
            "REPLACE(REPLACE(COALESCE(error, ''), '\\t', ' '), '\\n', ' '), "
            "DATE_FORMAT(queued_at, '%%Y-%%m-%%d %%H:%%i:%%s.%%f'), "
            "DATE_FORMAT(finished_at, '%%Y-%%m-%%d %%H:%%i:%%s.%%f'), "
            "SUBSTRING(command, 1, 60) "
            'FROM dispatches WHERE execution_id IN (%s)', cols)
        for r in rows:
            for k in ('step_index', 'attempt', 'stdout_len', 'stdout_bytes',
                      'stdout_truncated'):
                r[k] = int(r[k]) if r[k] is not None else None
            for k in ('exit_code', 'signal'):
                r[k] = int(r[k]) if r[k] is not None else None
            r['spec'] = parse_command(r['command'])
        return rows

    def steps(self):
        cols = ('execution_id', 'step_index', 'type', 'status', 'response',
                'responded_by', 'started_at', 'finished_at', 'parent_index')
        rows = self._rows(
            'SELECT execution_id, step_index, type, status, '
            'response, responded_by, '
            "DATE_FORMAT(started_at, '%%Y-%%m-%%d %%H:%%i:%%s.%%f'), "
            "DATE_FORMAT(finished_at, '%%Y-%%m-%%d %%H:%%i:%%s.%%f'), "
            'parent_index '
            'FROM execution_steps WHERE execution_id IN (%s)', cols)
        for r in rows:
            r['step_index'] = int(r['step_index'])
            r['parent_index'] = None if _null(r['parent_index']) is None \
                else int(r['parent_index'])
        return rows

    # -- waiting -------------------------------------------------------------

    def settle_timeout(self):
        """Deadline + two heartbeats + one poll (DESIGN 8.2), from the
        longest timeout among the open dispatches, plus room for a loaded
        machine."""
        rows = self._rows(
            'SELECT COALESCE(MAX(timeout_ms), 0) FROM dispatches '
            "WHERE execution_id IN (%s)", ('t',))
        t = max([int(r['t'] or 0) for r in rows] + [0]) / 1000.0
        return t + GRACE_S + 2 * HEARTBEAT_S + POLL_S + 30

    def wait_final(self, timeout=None):
        """Wait until every tracked execution is final (or waiting on
        purpose); returns the ones that are not."""
        timeout = self.settle_timeout() if timeout is None else timeout

        def pending():
            st = self.statuses()
            return [e for e in self.executions if e in st and
                    st[e]['status'] not in FINAL and
                    not (e in self.waiting_ok and
                         st[e]['status'] == 'waiting')]
        left = wait_for(lambda: not pending(), timeout, 1)
        return [] if left else pending()

    # -- the nine checks -------------------------------------------------------

    def check_all(self, settle=True, timeout=None):
        """Wait for the executions to settle, then one TAP check per
        invariant of DESIGN.md section 8. Returns True when all hold."""
        diag('invariants over %d execution(s) (%d acknowledged), ledger %s'
             % (len(self.executions), len(self.acked), self.ledger.path))
        left = self.wait_final(timeout) if settle else []
        st = self.statuses()
        ds = self.dispatches()
        steps = self.steps()
        ok = [self.inv1(st), self.inv2(st, ds, left),
              self.inv3(ds), self.inv4(ds), self.inv5(ds),
              self.inv6(st, ds), self.inv7(ds, steps), self.inv8(steps),
              self.inv9(st)]
        return all(ok)

    def inv1(self, st):
        missing = sorted(e for e in self.acked if e not in st)
        return self.check('invariant 1: all %d acknowledged executions exist'
                     % len(self.acked), not missing,
                     'missing: %s' % missing[:20])

    def inv2(self, st, ds, left):
        stuck = []
        for e in self.executions:
            s = st.get(e, {}).get('status')
            if s is None or s in FINAL:
                continue
            if e in self.waiting_ok and s == 'waiting':
                continue
            stuck.append((e, s))
        open_ds = [(d['id'], d['status']) for d in ds
                   if d['status'] in OPEN_DISPATCH and
                   st.get(d['execution_id'], {}).get('status') in FINAL]
        return self.check('invariant 2: every execution final after the faults '
                     'stopped (%d checked), no dispatch left open in a '
                     'final execution' % len(self.executions),
                     not stuck and not open_ds,
                     {'not final': stuck[:20], 'open dispatches':
                      open_ds[:20]})

    def inv3(self, ds):
        entries = self.ledger.entries()
        seen, twice = set(), []
        for x in entries:
            if x in seen:
                twice.append(':'.join(x))
            seen.add(x)
        mine = set(self.executions)
        starts = {}
        for x in entries:
            starts.setdefault((x[0], x[1], x[2], x[3]), 0)
        missing, unknown = [], []
        known = set()
        for d in ds:
            if d['spec'] is None:
                continue
            key = (d['execution_id'], str(d['step_index']),
                   str(d['attempt']), d['worker_name'])
            known.add(key)
            # An exit code means the shell ran its first line, the
            # ledger's. One killed by a signal (a timeout, a worker's
            # drain) may have died before it: not counted missing.
            started = d['exit_code'] is not None
            if started and key not in starts:
                missing.append('%s %s' % (':'.join(key), d['status']))
        for x in seen:
            if x[0] in mine and x not in known:
                unknown.append(':'.join(x))
        return self.check('invariant 3: no command started twice for one attempt '
                     '(%d ledger lines), every started dispatch in the '
                     'ledger' % len(entries),
                     not twice and not missing and not unknown,
                     {'started twice': twice[:20],
                      'started but not in the ledger': missing[:20],
                      'ledger lines without a dispatch': unknown[:20]})

    def inv4(self, ds):
        keys, dup = {}, []
        for d in ds:
            k = (d['execution_id'], d['step_index'], d['worker_id'],
                 d['attempt'])
            if k in keys:
                dup.append(k)
            keys[k] = d
        ev = []
        for chunk in _chunks(self.executions):
            ev += sql_retry(
                "SELECT JSON_VALUE(payload, '$.command_id'), "
                "JSON_VALUE(payload, '$.status'), COUNT(*) FROM events "
                "WHERE type = 'dispatch_status' AND execution_id IN (%s) "
                "AND JSON_VALUE(payload, '$.status') NOT IN "
                "('queued', 'sent', 'running') GROUP BY 1, 2"
                % _in_list(chunk))
        per = {}
        for cid, status, n in ev:
            per.setdefault(cid, []).append((status, int(n)))
        twice = {c: v for c, v in per.items()
                 if len(v) > 1 or v[0][1] > 1}
        # Each final result event agrees with the row.
        byid = {d['id']: d for d in ds}
        differ = {c: (v, byid[c]['status']) for c, v in per.items()
                  if c in byid and v[0][0] != byid[c]['status']}
        sev = []
        for chunk in _chunks(self.executions):
            sev += sql_retry(
                "SELECT execution_id, JSON_VALUE(payload, '$.step'), "
                "JSON_VALUE(payload, '$.status'), COUNT(*) FROM events "
                "WHERE type = 'step_status' AND execution_id IN (%s) "
                "AND JSON_VALUE(payload, '$.status') IN "
                "('succeeded', 'failed', 'skipped') GROUP BY 1, 2, 3 "
                "HAVING COUNT(*) > 1" % _in_list(chunk))
        return self.check('invariant 4: one result per (execution, step, worker, '
                     'attempt) over %d dispatches; no result event twice'
                     % len(ds), not dup and not twice and not differ and
                     not sev,
                     {'duplicate rows': dup[:10],
                      'result events more than once': list(
                          twice.items())[:10],
                      'event differs from row': list(differ.items())[:10],
                      'step finished twice': sev[:10]})

    def inv5(self, ds):
        bad, checked = [], 0
        for d in ds:
            if d['spec'] is None:
                continue
            seed, n, _ = d['spec']
            have = d['stdout_len'] or 0
            sha = d['stdout_sha'] or hashlib.sha256(b'').hexdigest()
            complete = d['exit_code'] is not None
            checked += 1
            if complete:
                kept = min(n, OUTPUT_CAP)
                if have != kept or sha != known_sha256(seed, n, kept) or \
                        d['stdout_bytes'] != n or \
                        bool(d['stdout_truncated']) != (n > OUTPUT_CAP):
                    bad.append({'id': d['id'], 'status': d['status'],
                                'stored': have, 'bytes': d['stdout_bytes'],
                                'truncated': d['stdout_truncated'],
                                'expected': n})
            elif have:
                # No result (lost, killed): what was kept is a prefix.
                if have > min(n, OUTPUT_CAP) or \
                        sha != known_sha256(seed, n, have):
                    bad.append({'id': d['id'], 'status': d['status'],
                                'stored': have, 'not a prefix': True})
        return self.check('invariant 5: stored output equals the produced bytes '
                     '(%d dispatches, sha256)' % checked, not bad, bad[:10])

    def inv6(self, st, ds):
        starts = set(self.ledger.entries())
        bad = []
        for d in ds:
            s = d['status']
            spec = d['spec']
            key = (d['execution_id'], str(d['step_index']),
                   str(d['attempt']), d['worker_name'])
            if s == 'succeeded' and (d['exit_code'] != 0 or (
                    spec is not None and (spec[2] != 0 or
                                          key not in starts))):
                bad.append(('succeeded without a real exit 0', d['id'],
                            d['exit_code'], spec))
            if s == 'lost' and d['exit_code'] is not None:
                bad.append(('lost with an exit code', d['id'],
                            d['exit_code']))
            if spec is not None and d['exit_code'] is not None and \
                    d['exit_code'] != spec[2]:
                bad.append(('exit code differs', d['id'], d['exit_code'],
                            spec[2]))
        per = {}
        for d in ds:
            per.setdefault(d['execution_id'], []).append(d)
        for e, row in st.items():
            if row['status'] == 'completed':
                nots = [d['id'] for d in per.get(e, [])
                        if d['status'] != 'succeeded']
                if nots:
                    bad.append(('completed with unsuccessful dispatches',
                                e, nots[:5]))
        return self.check('invariant 6: exit codes are the real ones, nothing '
                     'lost recorded as success', not bad, bad[:10])

    def inv7(self, ds, steps):
        per = {}
        for d in ds:
            per.setdefault((d['execution_id'], d['step_index']),
                           []).append(d)
        sts = {(s['execution_id'], s['step_index']): s for s in steps}
        bad = []
        for (e, i), lst in per.items():
            if i == 0:
                continue
            first = min(d['queued_at'] for d in lst)
            # The nearest earlier step with dispatches must be done; the
            # steps of one parallel group run at once (SPEC section 14).
            par = sts.get((e, i), {}).get('parent_index')
            j = i - 1
            while j >= 0 and ((e, j) not in per or (par is not None and
                              sts.get((e, j), {}).get('parent_index') ==
                              par)):
                j -= 1
            if j < 0:
                continue
            prev = per[(e, j)]
            ends = [d['finished_at'] for d in prev]
            if any(x is None for x in ends) or max(ends) > first:
                bad.append(('step %d queued at %s before step %d ended %s'
                            % (i, first, j, max(x or 'never'
                                                for x in ends)), e))
        # Conditions on the previous step's success saw it.
        for (e, i), s in sts.items():
            if i == 0 or i not in self.cond_steps:
                continue
            p = sts.get((e, i - 1))
            if p and p['status'] == 'succeeded' and \
                    s['status'] == 'skipped':
                bad.append(('step %d skipped though step %d succeeded'
                            % (i, i - 1), e))
        return self.check('invariant 7: each step started after the previous '
                     "one's results were committed; conditions saw them",
                     not bad, bad[:10])

    def inv8(self, steps):
        bad = []
        sts = {(s['execution_id'], s['step_index']): s for s in steps}
        for (e, i), (resp, user) in self.answers.items():
            s = sts.get((e, i))
            if s is None or s['response'] != resp or \
                    s['responded_by'] != user:
                bad.append(('acknowledged answer not recorded', e, i, resp,
                            s and (s['response'], s['responded_by'])))
        late = 0
        for s in steps:
            if s['type'] != 'prompt' or s['response'] is None:
                continue
            if not s['responded_by']:
                bad.append(('answer without responded_by',
                            s['execution_id'], s['step_index']))
            # A second answer must be refused and change nothing.
            if late < 5:
                late += 1
                r = call('POST', '/api/executions/%s/respond'
                         % s['execution_id'], body={'response': 'No'})
                if r[0] != 409:
                    bad.append(('a second answer got %d' % r[0],
                                s['execution_id']))
        if late:
            after = {(x['execution_id'], x['step_index']): x
                     for x in self.steps()}
            for k, s in sts.items():
                if s['type'] == 'prompt' and s['response'] is not None and \
                        after.get(k, {}).get('response') != s['response']:
                    bad.append(('a second answer changed it', k))
        n = sum(1 for s in steps if s['type'] == 'prompt')
        return self.check('invariant 8: each prompt (%d) has at most one answer, '
                     'with who gave it; a second one gets 409' % n,
                     not bad, bad[:10])

    def inv9(self, st):
        """A browser resuming from the event before the scenario receives
        every event of its executions the database holds, once, in order,
        and ends on each execution's stored status."""
        import wsclient
        mine = set(self.executions)
        got, info = [], {}
        try:
            ws = wsclient.connect('/ws', 'pulse-browser',
                                  headers={'Origin': origin()},
                                  auth=('admin', 'admin'), timeout=15)
        except Exception as e:
            return self.check('invariant 9: a browser connects', False, str(e))
        try:
            hello = ws.recv_json(15)
            info['hello'] = hello
            ws.send_json({'type': 'resume', 'last_event_id': self.floor})
            deadline = time.monotonic() + 120
            end = None
            while time.monotonic() < deadline:
                m = ws.recv_json(30)
                if m is None:
                    break
                if m.get('type') in ('resumed', 'resync'):
                    end = m
                    break
                if m.get('execution_id') in mine and 'event_id' in m:
                    got.append(m)
            info['end'] = end
        except Exception as e:
            info['error'] = str(e)
            end = None
        finally:
            try:
                ws.close()
            except Exception:
                pass
        if not end or end.get('type') != 'resumed':
            return self.check('invariant 9: a browser resuming from event %d '
                         'catches up' % self.floor, False, info)
        top = int(end['last_event_id'])
        db_ids = []
        for chunk in _chunks(self.executions):
            db_ids += [int(r[0]) for r in sql_retry(
                "SELECT id FROM events WHERE id > %d AND id <= %d AND "
                "type <> 'command_output' AND execution_id IN (%s)"
                % (self.floor, top, _in_list(chunk)))]
        ids = [m['event_id'] for m in got if m.get('type') !=
               'command_output']
        last = {}
        for m in got:
            if m.get('type') == 'execution_status':
                last[m['execution_id']] = m.get('status')
        wrong = {e: (last.get(e), st[e]['status']) for e in st
                 if st[e]['status'] in FINAL and last.get(e) !=
                 st[e]['status']}
        problems = {}
        if ids != sorted(ids) or len(ids) != len(set(ids)):
            problems['order or duplicates'] = ids[:50]
        if set(ids) != set(db_ids):
            problems['missing'] = sorted(set(db_ids) - set(ids))[:20]
            problems['extra'] = sorted(set(ids) - set(db_ids))[:20]
        if wrong:
            problems['last execution_status differs'] = list(
                wrong.items())[:10]
        return self.check('invariant 9: a browser resuming from event %d gets '
                     'the %d events the database holds for these '
                     'executions, once, in order, ending on their status'
                     % (self.floor, len(db_ids)), not problems, problems)

    # -- cleanup ---------------------------------------------------------------

    def cleanup(self):
        """Delete the workflows (their executions go with them) and the
        ledger; pulse_test.done() already deletes workflows made through
        create_workflow when everything passed."""
        self.ledger.remove()


# --- schedules (SPEC section 16) --------------------------------------------------

def schedule_fires(sid):
    """A schedule's fire rows: [(epoch, outcome, execution_id, reason)]."""
    return [(int(r[0]), r[1], _null(r[2]), _null(r[3])) for r in sql_retry(
        "SELECT FLOOR(UNIX_TIMESTAMP(fire_time)), outcome, "
        "IFNULL(execution_id, 'NULL'), IFNULL(reason, 'NULL') FROM "
        "schedule_fires WHERE schedule_id = '%s' ORDER BY fire_time" % sid)]


def check_schedules(sids, every=None, upto=None, check_fn=check):
    """The schedule invariants, one TAP check each, over schedules sids:

    S1 no fire twice: one row per (schedule, fire time) (the key), at
       most one execution per row, and every execution started by
       schedule:<name> is the execution of exactly one row of it.
    S2 no fire missed without a record: every row that started nothing
       says why, a started row names its execution; with every (seconds,
       e.g. 60 for "* * * * *") the rows cover each fire time from the
       first one to upto without a gap.
    Returns True when both hold."""
    twice, unsaid = [], []
    for sid in sids:
        name = sql_retry("SELECT name FROM schedules WHERE id = '%s'" % sid)
        if not name:
            twice.append((sid, 'schedule gone'))
            continue
        fires = schedule_fires(sid)
        times = [f[0] for f in fires]
        if len(times) != len(set(times)):
            twice.append((sid, 'a fire time twice'))
        eids = [f[2] for f in fires if f[2] is not None]
        if len(eids) != len(set(eids)):
            twice.append((sid, 'an execution on two fires'))
        started = sorted(r[0] for r in sql_retry(
            "SELECT id FROM executions WHERE started_by = 'schedule:%s'"
            % name[0][0].replace("'", "''")))
        if started != sorted(eids):
            twice.append((sid, 'executions without their fire row',
                          sorted(set(started) - set(eids))[:5],
                          sorted(set(eids) - set(started))[:5]))
        for t, outcome, eid, reason in fires:
            if outcome in ('started',) and eid is None:
                unsaid.append((sid, t, 'started without an execution'))
            elif outcome not in ('started', 'queued') and not reason:
                unsaid.append((sid, t, outcome, 'without a reason'))
        if every and times:
            want = list(range(times[0], (upto or times[-1]) + 1, every))
            gaps = sorted(set(want) - set(times))
            if gaps:
                unsaid.append((sid, 'fire times with no row', gaps[:5]))
    a = check_fn('schedule invariant S1: no fire twice over %d schedule(s)'
                 % len(sids), not twice, twice[:10])
    b = check_fn('schedule invariant S2: no fire missed without a row '
                 'saying why', not unsaid, unsaid[:10])
    return a and b


# --- the stack ------------------------------------------------------------------

def start_worker(name, groups='', **env):
    """Start an extra worker through ctl; returns its row once online (or
    None). Stop it with stop_worker()."""
    from live import start_worker as _start
    return _start(name, groups, **env)


def stop_worker(name, forget=True):
    """Stop an extra worker (SIGTERM, then KILL) and, with forget, delete
    its row so the shared stack's worker list stays as it was."""
    from pulse_test import CtlError, ctl, find_worker
    try:
        ctl('worker-stop', name)
    except CtlError as e:
        diag('worker-stop %s: %s' % (name, e))
    if forget:
        w = find_worker(name)
        if w:
            call('DELETE', '/api/workers/%s' % w['id'])


def locals_online(timeout=90):
    """heal the stack and wait for local-1 and local-2: what every fault
    file leaves behind."""
    from live import online
    from pulse_test import ctl
    try:
        ctl('heal', timeout=180)
    except Exception as e:
        diag('heal: %s' % e)
    return all(online(n, timeout) for n in ('local-1', 'local-2'))


def current_step(eid):
    r = call('GET', '/api/executions/%s' % eid)
    if r[0] != 200 or not isinstance(r[2], dict):
        return None
    return r[2]
