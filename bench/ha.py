#!/usr/bin/env python3
"""Benchmark: more than one control host (issue 19, SPEC section 18).

Two stacks in one run, one after the other (two cores: never at once),
both on the optimised build:
1. one control stack on a single MariaDB (benchlib.Stack, ./pulse-dev
   stack): executions per second, and the time of a small committed
   transaction;
2. the HA stack (./pulse-dev ha stack: three Galera nodes, control stacks
   c1 and c2, workers ha-1 and ha-2 listing both): the same executions
   per second through both stacks, the same transactions on node 1, and
   the failover time of a worker over several rounds of `control-kill`
   of the stack the workers are on.

Figures (bench/results/ha.json, "keys"):
- ha_failover_p50_ms, ha_failover_max_ms: from the kill -9 of a control
  stack (the start of `ha ctl control-kill`) until the first command the
  other stack sent each worker afterwards is running (its dispatch's
  started_at), over the rounds and workers;
- ha_exec_per_s, single_exec_per_s: one-step executions (`true` on one
  of the two workers, in turn) started for SECONDS by THREADS client
  threads straight to pulse-api's FastCGI socket (nginx's per-user rate
  limit is policy, as in throughput.py), through both control stacks
  alternately on Galera; completed per second from the first start to
  the last completion (database times);
- galera_commit_extra_ms: the time of one committed single-row INSERT
  (autocommit) in one mariadb client session on Galera node 1 minus the
  same on the single MariaDB, each less the session's time for as many
  `DO 1` statements (what the client and the round trip cost).
"""

import atexit
import http.client
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import benchlib as B

SECONDS = 5 if B.QUICK else 20
THREADS = 4
ROUNDS = 2 if B.QUICK else 6
COMMITS = 300 if B.QUICK else 2000
WORKERS = ('ha-1', 'ha-2')


# --- the HA stack ------------------------------------------------------------

class HaStack:
    """./pulse-dev ha stack DIR on the optimised build, stopped at exit."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='pb-ha.', dir='/tmp')
        os.chmod(self.dir, 0o755)
        self.env = {}
        self.started = False
        atexit.register(self.stop)

    def start(self):
        # Capacity, not the overload policy: admission (issue 20) would
        # answer these closed-loop clients 503, which they do not wait out.
        env = dict(os.environ, PULSE_BUILD='bench', PULSE_ADMIT_LAG_MS='0',
                   PULSE_USER_EXECUTIONS_MAX='0', PULSE_USER_SOCKETS_MAX='0')
        for k in ('PULSE_URL', 'PULSE_URLS', 'PULSE_CTL', 'PULSE_HA_CTL',
                  'PULSE_HA_DIR', 'PULSE_STACK', 'PULSE_ENV_FILE',
                  'PULSE_WORKER_API_KEY'):
            env.pop(k, None)
        self.started = True
        r = subprocess.run([os.path.join(B.REPO, 'pulse-dev'), 'ha', 'stack',
                            self.dir], env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, text=True, timeout=1200)
        if r.returncode != 0:
            raise RuntimeError('pulse-dev ha stack failed: %s' %
                               (r.stderr[-2000:] or r.stdout[-2000:]))
        with open(os.path.join(self.dir, 'ha.env')) as f:
            for line in f:
                line = line.strip()
                if '=' in line and not line.startswith('#'):
                    k, v = line.split('=', 1)
                    self.env[k] = v.strip('"')
        self.urls = [u.strip() for u in self.env['PULSE_URLS'].split(',')]
        self.ports = [int(u.rsplit(':', 1)[1]) for u in self.urls]
        self.http = [B.Http('127.0.0.1', p) for p in self.ports]
        for h in self.http:
            B.wait(lambda h=h: h.get('/health')[0] == 200, 60, 'health')
        return self

    def ctl(self, *args, timeout=300):
        argv = shlex.split(self.env['PULSE_HA_CTL']) + [str(a) for a in args]
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, PULSE_BUILD='bench'))
        if r.returncode != 0:
            raise RuntimeError('ha ctl %s: %s' % (args, r.stderr[-500:]))
        return r.stdout

    def sock(self, n):
        return os.path.join(self.dir, 'db%d' % n, 'run', 'mysql.sock')

    def sql(self, stmt, n=1):
        return mysql(self.sock(n), stmt)

    def api_sock(self, n):
        return os.path.join(self.dir, 'c%d' % n, 'run', 'api.sock')

    def healthy(self, n):
        try:
            return self.http[n - 1].get('/health')[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def stop(self):
        if not self.started:
            return
        self.started = False
        try:
            subprocess.run(shlex.split(self.env.get(
                'PULSE_HA_CTL', '%s ha ctl %s' % (
                    os.path.join(B.REPO, 'pulse-dev'), self.dir))) + ['stop'],
                capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError):
            pass
        if os.environ.get('BENCH_KEEP', '') != '1':
            shutil.rmtree(self.dir, ignore_errors=True)


def mysql(sock, stmt, stdin=None):
    r = subprocess.run(['mariadb', '--no-defaults', '-uroot', '-S', sock,
                        '-N', '-B'] + (['-e', stmt] if stmt else []),
                       input=stdin, capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise RuntimeError('mariadb: %s' % r.stderr[-500:])
    return r.stdout


# --- commit latency ----------------------------------------------------------

def commit_ms(sock):
    """ms per autocommitted one-row INSERT in one session, less the
    session's cost per `DO 1` (best of three each)."""
    mysql(sock, 'CREATE DATABASE IF NOT EXISTS pulse_bench; '
          'CREATE TABLE IF NOT EXISTS pulse_bench.commits (id BIGINT '
          'AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB')
    ins = 'USE pulse_bench;\n' + 'INSERT INTO commits (v) VALUES (1);\n' * \
        COMMITS
    nop = 'USE pulse_bench;\n' + 'DO 1;\n' * COMMITS

    def timed(script):
        best = None
        for _ in range(3):
            t = time.monotonic()
            mysql(sock, None, stdin=script)
            d = time.monotonic() - t
            best = d if best is None else min(best, d)
        return best
    t_ins, t_nop = timed(ins), timed(nop)
    mysql(sock, 'DROP DATABASE pulse_bench')
    return max(0.0, (t_ins - t_nop) * 1000.0 / COMMITS)


def durability(sock):
    out = mysql(sock, "SELECT @@innodb_flush_log_at_trx_commit, "
                "@@sync_binlog, @@log_bin")
    f = out.strip().split('\t')
    return 'innodb_flush_log_at_trx_commit=%s sync_binlog=%s log_bin=%s' \
        % tuple(f[:3]) if len(f) >= 3 else out.strip()


# --- executions per second ----------------------------------------------------

def exec_rate(socks, sql, wids, prefix):
    """Start executions of wids round-robin through the FastCGI sockets
    for SECONDS, wait for all, return (rate/s, started, completed,
    errors)."""
    stop = time.monotonic() + SECONDS
    started, errors = [], []
    lock = threading.Lock()

    def client(k):
        conns = [B.Fcgi(s) for s in socks]
        i = k
        while time.monotonic() < stop:
            http = conns[i % len(conns)]
            try:
                r = http.post('/api/executions',
                              {'workflow_id': wids[i % len(wids)]})
            except Exception as e:  # counted, the run goes on
                with lock:
                    errors.append(str(e))
                i += 1
                continue
            i += 1
            with lock:
                if r[0] == 201:
                    started.append(r[2]['id'])
                else:
                    errors.append('%s %s' % (r[0], str(r[2])[:200]))

    threads = [threading.Thread(target=client, args=(k,))
               for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if not started:
        raise RuntimeError('%s: no execution started: %s'
                           % (prefix, errors[:3]))

    def pending():
        out = sql("SELECT COUNT(*) FROM pulse.executions e JOIN "
                  "pulse.workflows w ON w.id = e.workflow_id WHERE "
                  "w.name LIKE '%s%%' AND e.status IN ('running', "
                  "'waiting')" % prefix)
        return int(out.strip()) == 0
    B.wait(pending, 600, 'every execution to end', interval=0.5)
    out = sql("SELECT e.status, UNIX_TIMESTAMP(e.started_at), "
              "UNIX_TIMESTAMP(e.completed_at) FROM pulse.executions e JOIN "
              "pulse.workflows w ON w.id = e.workflow_id WHERE w.name LIKE "
              "'%s%%'" % prefix)
    first = last = None
    done = 0
    for line in out.splitlines():
        st, s0, s1 = line.split('\t')
        if st != 'completed':
            continue
        done += 1
        first = float(s0) if first is None else min(first, float(s0))
        last = float(s1) if last is None else max(last, float(s1))
    if not done:
        raise RuntimeError('%s: no execution completed' % prefix)
    return done / max(last - first, 0.001), len(started), done, errors


def workflows(http, prefix, names):
    out = []
    for n in names:
        r = http.post('/api/workflows', {'name': '%s %s' % (prefix, n),
                                         'definition': {'steps': [{
                                             'name': 'true',
                                             'type': 'execute',
                                             'targets': [n],
                                             'command': 'true'}]}})
        if r[0] != 201:
            raise RuntimeError('create workflow: %s %s' % (r[0], r[2]))
        out.append(r[2]['id'])
    return out


# --- failover ----------------------------------------------------------------

def worker_nodes(ha):
    out = ha.sql("SELECT name, COALESCE(pushd_node, ''), status FROM "
                 "pulse.workers WHERE name IN ('ha-1', 'ha-2')")
    return {ln.split('\t')[0]: tuple(ln.split('\t')[1:3])
            for ln in out.splitlines()}


def failover_round(ha, wid, r):
    """Kill the control stack both workers are on, mid-execution; the
    time until each worker's next command runs, in ms."""
    B.wait(lambda: len(set(v for v in worker_nodes(ha).values())) == 1 and
           list(worker_nodes(ha).values())[0][1] == 'online' and
           list(worker_nodes(ha).values())[0][0] in ('c1', 'c2'), 120,
           'both workers on one control stack')
    nodes = worker_nodes(ha)
    victim = int(list(nodes.values())[0][0][1])
    other = 3 - victim
    st, _, e = ha.http[other - 1].post('/api/executions',
                                       {'workflow_id': wid})
    if st != 201:
        raise RuntimeError('start: %s %s' % (st, e))
    eid = e['id']

    def step():
        out = ha.sql("SELECT current_step FROM pulse.executions WHERE id = "
                     "'%s'" % eid).strip()
        return int(out or 0)
    B.wait(lambda: step() >= 3, 120, 'the execution at step 3',
           interval=0.1)
    # As tests/ha/test_control_failover.py: from before the ctl until the
    # first command the surviving stack sent after the ctl returned (the
    # victim's processes gone) is running.
    t_kill = time.time()
    ha.ctl('control-kill', victim)
    t_gone = time.time()
    took = {}

    def firsts():
        for w in WORKERS:
            if w in took:
                continue
            out = ha.sql(
                "SELECT MIN(UNIX_TIMESTAMP(started_at)) FROM "
                "pulse.dispatches WHERE execution_id = '%s' AND worker_name "
                "= '%s' AND UNIX_TIMESTAMP(sent_at) > %.3f"
                % (eid, w, t_gone)).strip()
            if out and out != 'NULL':
                took[w] = (float(out) - t_kill) * 1000.0
        return len(took) == len(WORKERS)
    B.wait(firsts, 120, 'the workers to run their next command on c%d'
           % other, interval=0.05)
    ha.http[other - 1].post('/api/executions/%s/cancel' % eid, {})
    ha.ctl('control-start', victim)
    B.wait(lambda: ha.healthy(victim), 60, 'c%d back' % victim)
    B.log('failover round %d: c%d killed; %s' % (r, victim, ', '.join(
        '%s %.0f ms' % kv for kv in sorted(took.items()))))
    return victim, took


# --- the run -------------------------------------------------------------------

def run(res):
    keys = {}
    res.doc['keys'] = keys
    # 1. one stack, one MariaDB.
    single = B.Stack('ha-single').start()
    try:
        single.wait_online(['local-1', 'local-2'])
        wids = workflows(single.http, 'bench ha1', ['local-1', 'local-2'])
        sock = os.path.join(single.dir, 'run', 'mysql.sock')
        rate1, s1, d1, e1 = exec_rate(
            [os.path.join(single.dir, 'run', 'api.sock')],
            lambda q: mysql(sock, q), wids, 'bench ha1')
        c_single = commit_ms(sock)
        dur_single = durability(sock)
    finally:
        single.stop()
    # 2. the HA stack.
    ha = HaStack().start()
    try:
        B.wait(lambda: all(v[1] == 'online' for v in
                           worker_nodes(ha).values()) and
               len(worker_nodes(ha)) == 2, 120, 'ha-1 and ha-2 online')
        wids = workflows(ha.http[0], 'bench ha2', list(WORKERS))
        rate2, s2, d2, e2 = exec_rate([ha.api_sock(1), ha.api_sock(2)],
                                      lambda q: ha.sql(q, 1), wids,
                                      'bench ha2')
        c_galera = commit_ms(ha.sock(1))
        dur_galera = durability(ha.sock(1))
        r = ha.http[0].post('/api/workflows', {
            'name': 'bench ha failover', 'definition': {'steps': [{
                'name': 's%d' % i, 'type': 'execute', 'targets': list(
                    WORKERS), 'command': 'sleep 0.2', 'timeout': 60000}
                for i in range(200)]}})
        if r[0] != 201:
            raise RuntimeError('create workflow: %s %s' % (r[0], r[2]))
        times, rounds = [], []
        for k in range(ROUNDS):
            victim, took = failover_round(ha, r[2]['id'], k + 1)
            rounds.append(['%d' % (k + 1), 'c%d' % victim] +
                          [B.fmt(took[w], 'ms') for w in WORKERS])
            times += list(took.values())
    finally:
        ha.stop()

    keys['ha_failover_p50_ms'] = round(B.pct(times, 50), 1)
    keys['ha_failover_max_ms'] = round(max(times), 1)
    keys['ha_exec_per_s'] = round(rate2, 1)
    keys['single_exec_per_s'] = round(rate1, 1)
    keys['galera_commit_extra_ms'] = round(c_galera - c_single, 3)
    res.table('Worker failover: kill -9 of the control stack both workers '
              'are on, until the next command runs on each',
              ['round', 'killed', 'ha-1', 'ha-2'], rounds,
              {'times_ms': times})
    res.table('Executions per second (one step, `true`, 2 workers, %d '
              'client threads, %d s) and commit time' % (THREADS, SECONDS),
              ['setup', 'started', 'completed', 'completed/s',
               'commit (ms)', 'durability'],
              [['one stack, one MariaDB', s1, d1, B.fmt(rate1),
                B.fmt(c_single), dur_single],
               ['two stacks, Galera (3 nodes)', s2, d2, B.fmt(rate2),
                B.fmt(c_galera), dur_galera]],
              {'single': {'rate': rate1, 'errors': e1[:10]},
               'ha': {'rate': rate2, 'errors': e2[:10]},
               'commit_ms': {'single': c_single, 'galera': c_galera}})
    res.figure('worker failover, kill -9 of its control stack (p50 / max, '
               '%d rounds x 2 workers)' % ROUNDS,
               '%s / %s' % (B.fmt(keys['ha_failover_p50_ms'], 'ms'),
                            B.fmt(keys['ha_failover_max_ms'], 'ms')),
               '', 'seconds', keys['ha_failover_max_ms'] < 30000)
    res.figure('executions/s: two stacks on Galera vs one on one MariaDB',
               '%s vs %s' % (B.fmt(rate2, '/s'), B.fmt(rate1, '/s')), '',
               '', None)
    res.figure('extra commit latency of Galera (3 nodes, loopback)',
               B.fmt(keys['galera_commit_extra_ms'], 'ms'), '', '', None)
    for e in (e1, e2):
        if e:
            res.note('%d start requests failed, e.g. %s' % (len(e), e[0]))


if __name__ == '__main__':
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda n, f: sys.exit(128 + n))
    sys.exit(B.main('ha', 'more than one control host (Galera)', run))
