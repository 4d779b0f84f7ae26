"""Helpers of the pulse-api and MariaDB fault scenarios (test_api_kill,
test_db_faults, test_restart_order): a SQL session that holds a lock across
calls, which pulse-api children are busy, clients that retry the way a
careful script would, and the consistency checks of the tables that no
crash may break (each execution whole, one per idempotency key)."""

import http.client
import os
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))

from pulse_test import call, ctl, ctl_pids, diag, sql  # noqa: E402

STACK = os.environ.get('PULSE_STACK', '')
KEY = 'Idempotency-Key'
RETRY = (502, 503, 504)
# What an idle child sleeps in (child.c): epoll_pwait, or ppoll with a kept
# FastCGI connection. Anything else is a child in the middle of a request.
IDLE_SYSCALLS = ('281', '271')


class Session:
    """A `mariadb` client kept open on the stack's socket, so a lock taken
    by one statement is held until a later one (ctl sql exits at once)."""

    def __init__(self):
        self.p = subprocess.Popen(
            ['mariadb', '--no-defaults', '-uroot', '-S',
             os.path.join(STACK, 'run', 'mysql.sock'), '-N', '-B', '-n',
             'pulse'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.n = 0

    def run(self, statements):
        """Run statements; returns their output lines once all ran."""
        self.n += 1
        mark = 'done-%d-%s' % (self.n, uuid.uuid4().hex[:6])
        self.p.stdin.write('%s\nSELECT \'%s\';\n' % (statements, mark))
        self.p.stdin.flush()
        out = []
        while True:
            line = self.p.stdout.readline()
            if line == '':
                raise RuntimeError('mariadb session ended: %s' % out)
            line = line.rstrip('\n')
            if line == mark:
                return out
            out.append(line)

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(10)
        except Exception:
            self.p.kill()
            self.p.wait()


def syscall_of(pid):
    try:
        with open('/proc/%d/syscall' % pid) as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return None


def api_children():
    """The pulse-api master's children, from /proc (no ctl: fast)."""
    try:
        with open(os.path.join(STACK, 'api.pid')) as f:
            master = int(f.read().strip())
        with open('/proc/%d/task/%d/children' % (master, master)) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return ctl_pids('api-children')


def busy_children():
    """pulse-api children in the middle of a request right now."""
    out = []
    for pid in api_children():
        s = syscall_of(pid)
        if s is not None and s not in IDLE_SYSCALLS:
            out.append(pid)
    return out


def kill9(pids):
    n = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            n += 1
        except ProcessLookupError:
            pass
    return n


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[-1][0] != 'Z'
    except OSError:
        return False


def retrying(method, path, body=None, headers=None, user='admin',
             tries=60, pause=0.5, timeout=60):
    """One logical request, repeated on connection errors and 502/503/504
    as a careful client does. Returns (final response or None, [what each
    attempt got])."""
    seen = []
    for _ in range(tries):
        try:
            r = call(method, path, user=user, body=body, headers=headers,
                     timeout=timeout)
        except (OSError, http.client.HTTPException) as e:
            seen.append(type(e).__name__)
            time.sleep(pause)
            continue
        seen.append(r[0])
        if r[0] in RETRY:
            time.sleep(pause)
            continue
        if r[0] == 429:         # nginx's rate limit: slow down
            time.sleep(1)
            continue
        return r, seen
    return None, seen


def start_keyed(wid, key=None, user='admin', **kw):
    """POST /api/executions with an Idempotency-Key until it is answered."""
    key = key or 'k-' + uuid.uuid4().hex
    return retrying('POST', '/api/executions', body={'workflow_id': wid},
                    headers={KEY: key}, user=user, **kw)


def answer(eid, step, response, user='admin', **kw):
    """Answer prompt `step` until answered. Returns (outcome, seen):
    'answered' (200), 'mine' (409 naming this very answer: an earlier
    attempt was recorded although its response was lost), or the status."""
    r, seen = retrying('POST', '/api/executions/%s/respond' % eid,
                       body={'response': response, 'step': step}, user=user,
                       **kw)
    if r is None:
        return None, seen
    if r[0] == 200:
        return 'answered', seen
    a = r[2].get('answered') if isinstance(r[2], dict) else None
    if r[0] == 409 and isinstance(a, dict) and a.get('step') == step and \
            a.get('response') == response and a.get('responded_by') == user:
        return 'mine', seen
    return r[0], seen


def replayed(r):
    return r is not None and r[1].get('Idempotent-Replayed') == 'true'


def wf_in(wids):
    return ','.join("'%s'" % w for w in wids) or "''"


def whole_executions(wids, nsteps):
    """Problems with the executions of workflows wids (nsteps: workflow id
    -> its step count): each must have all its steps, one
    execution_started event, a key row only when it has an execution, and
    a running execute step must have its dispatches. [] when whole."""
    bad = []
    rows = sql("SELECT e.id, e.workflow_id, e.status, e.current_step, "
               "(SELECT COUNT(*) FROM execution_steps s WHERE "
               "s.execution_id = e.id), "
               "(SELECT COUNT(*) FROM events v WHERE v.execution_id = e.id "
               "AND v.type = 'execution_started'), "
               "(SELECT s.type FROM execution_steps s WHERE s.execution_id "
               "= e.id AND s.step_index = e.current_step), "
               "(SELECT s.status FROM execution_steps s WHERE "
               "s.execution_id = e.id AND s.step_index = e.current_step), "
               "(SELECT COUNT(*) FROM dispatches d WHERE d.execution_id = "
               "e.id AND d.step_index = e.current_step) "
               "FROM executions e WHERE e.workflow_id IN (%s)" % wf_in(wids))
    for (eid, wid, status, cur, nst, nstart, typ, sst, nd) in rows:
        if int(nst) != nsteps[wid]:
            bad.append((eid, 'has %s of %d steps' % (nst, nsteps[wid])))
        if int(nstart) != 1:
            bad.append((eid, '%s execution_started events' % nstart))
        if status in ('running',) and typ == 'execute' and \
                sst == 'running' and int(nd) == 0:
            bad.append((eid, 'running execute step without dispatches'))
    orphans = sql("SELECT idem_key FROM idempotency_keys WHERE "
                  "execution_id IS NULL")
    if orphans:
        bad.append(('keys without an execution', orphans[:10]))
    return bad


def executions_per_key(keys):
    """{key: number of executions it names} for the keys given."""
    out = {k: 0 for k in keys}
    for chunk in range(0, len(keys), 200):
        part = keys[chunk:chunk + 200]
        for k, n in sql("SELECT idem_key, COUNT(execution_id) FROM "
                        "idempotency_keys WHERE idem_key IN (%s) GROUP BY "
                        "idem_key" % ','.join("'%s'" % k for k in part)):
            out[k] = int(n)
    return out


def count_executions(wids):
    return int(sql('SELECT COUNT(*) FROM executions WHERE workflow_id IN '
                   '(%s)' % wf_in(wids))[0][0])


def answers_recorded(eids):
    """{(execution, step): number of execution_response events}."""
    out = {}
    for chunk in range(0, len(eids), 200):
        part = eids[chunk:chunk + 200]
        for e, payload in sql(
                "SELECT execution_id, JSON_VALUE(payload, '$.step') FROM "
                "events WHERE type = 'execution_response' AND execution_id "
                "IN (%s)" % ','.join("'%s'" % x for x in part)):
            k = (e, int(payload))
            out[k] = out.get(k, 0) + 1
    return out


def wait_children(n, timeout=60):
    """Wait until pulse-api has n live children again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p for p in ctl_pids('api-children') if pid_alive(p)]
        if len(pids) >= n:
            return pids
        time.sleep(0.2)
    return None


def heal():
    try:
        ctl('heal', timeout=180)
    except Exception as e:  # noqa
        diag('heal: %s' % e)
