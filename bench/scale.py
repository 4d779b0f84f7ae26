#!/usr/bin/env python3
"""Benchmark 2: the scale of fan-out.

N simulated workers (bench/loadws.c: one process, N websockets, every
execute_command answered at once), each enrolled first with its own key,
and one workflow with a single step targeting `all`: the time from
POST /api/executions until the execution is completed (its summary,
GET /api/executions?limit=1, polled every 5 ms; one GET of the
execution then checks the N dispatches), and pushd's resident
memory per worker connection ((RSS with N connected - RSS of a fresh
pushd) / N). pushd is restarted before each N so the baseline is a fresh
process. The real workers local-1/local-2 are stopped: `all` means the
simulated ones only.

Every N connects through nginx, as a production fleet does (issue 20:
`scale_10000_p50_ms` with "via": "nginx", `scale_10000_kb_per_conn`):
the dev nginx (nginx/dev/nginx.conf.in) holds 2 x 16,384 connections
(spread over its two workers by `reuseport`),
and a proxied websocket takes two. nginx limits /worker to 50 new
sockets per second per client address (burst 2,000): a fleet comes
from many hosts, so loadws connects every 100 sockets from a loopback
address of their own (-s). pushd holds a descriptor per socket: the open
files limit is raised here, before the stack starts, for the stack to
inherit. BENCH_SCALE_VIA=pushd connects straight to pushd's worker
socket instead (a comparison without nginx).
"""

import os
import resource
import signal
import subprocess
import sys
import time

import benchlib as B

NS = [100] if B.QUICK else [100, 1000, 10000]
if os.environ.get('BENCH_SCALE_NS'):	# e.g. 1000 (one size, when profiling)
    NS = [int(x) for x in os.environ['BENCH_SCALE_NS'].split(',')]
RUNS = 3 if B.QUICK else 5
VIA = os.environ.get('BENCH_SCALE_VIA', 'nginx')
PER_SOURCE = 100	# sockets per loopback source address (nginx's limit)
NOFILE = 65536


def raise_nofile():
    """The open files limit for pushd (which inherits it through
    ./pulse-dev stack): NOFILE where allowed, else the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(NOFILE, soft)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fd_limit(pid):
    """The soft open-files limit of a running process (None if gone)."""
    return B.proc_number(pid, 'limits', 'Max open files', 3)


def final_status(stack, eid, deadline):
    """eid's status once it has ended, polled every 5 ms on the newest
    execution's summary (GET /api/executions?limit=1: this stack starts
    one at a time), which does not grow with N as the execution's own
    document (N dispatches) does; a browser socket would get N
    dispatch_status events first, and parse them in Python."""
    while time.monotonic() < deadline:
        r = stack.http.get('/api/executions?limit=1')
        if r[0] == 200 and r[2] and r[2][0]['id'] == eid and \
                r[2][0]['status'] in B.FINAL:
            return r[2][0]['status']
        time.sleep(0.005)
    raise RuntimeError('execution %s did not finish' % eid)


def open_fds(pid):
    try:
        return len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return None


def online(stack, prefix):
    out = stack.sql("SELECT COUNT(*) FROM workers WHERE status = 'online' "
                    "AND name LIKE '%s-%%'" % prefix)
    return int(out.strip() or 0)


def restart_pushd(stack):
    pid = stack.pid('pushd')
    if pid:
        os.kill(pid, signal.SIGTERM)
        B.wait(lambda: B.rss_kb(pid) is None, 30, 'pushd to stop')
    stack.ctl('pushd-start')
    B.wait(lambda: stack.http.get('/health')[0] == 200, 30, 'health')
    time.sleep(1.0)		# its first polls and allocations
    return stack.pid('pushd')


def run(res):
    nofile = raise_nofile()
    if nofile < max(NS) + 1024:
        res.note('open files limit %d: too few for %d workers' % (
            nofile, max(NS)))
    stack = B.Stack('scale').start()
    stack.ctl('worker-stop', 'local-1')
    stack.ctl('worker-stop', 'local-2')
    B.wait(lambda: not (stack.online_workers() & {'local-1', 'local-2'}),
           60, 'local workers offline')
    wid = stack.create_workflow('bench scale', [{
        'name': 'all', 'type': 'execute', 'targets': ['all'],
        'command': 'true'}])
    rows, data = [], {}
    try:
        for n in NS:
            pid = restart_pushd(stack)
            base = B.rss_kb(pid)
            prefix = 'sim%d' % n
            # Enrolled workers on their own keys, as a version-2 fleet
            # runs (a shared-key worker would be pending: never commanded).
            keys, _ = B.enroll(stack, prefix, n)
            argv = [B.LOADWS, 'worker', '-K', keys, '-n', str(n),
                    '-p', prefix]
            if VIA == 'pushd':
                argv += ['-U', os.path.join(stack.dir, 'run',
                                            'pushd-worker.sock')]
            else:
                argv += ['-H', '127.0.0.1', '-P', str(stack.port),
                         '-s', str(PER_SOURCE)]
            # A refused handshake (nginx's 429 or 502) is tried again, as
            # a worker reconnects; the table counts the failures.
            argv += ['-R', '5']
            t0 = time.monotonic()
            load_out = open(os.path.join(stack.dir, 'loadws-%d.out' % n),
                            'w+')
            load = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                    stdout=load_out)
            try:
                B.wait(lambda: online(stack, prefix) >= n, 600,
                       '%d simulated workers online' % n, interval=0.25)
                connect_s = time.monotonic() - t0
                time.sleep(2.0)		# registration work settles
                rss = B.rss_kb(pid)
                times = []
                for i in range(RUNS + 1):
                    t1 = time.monotonic()
                    eid = stack.start_execution(wid)
                    st = final_status(stack, eid, t1 + 300)
                    dt = (time.monotonic() - t1) * 1000
                    e = stack.execution(eid)
                    nd = sum(len(s.get('dispatches') or [])
                             for s in e['steps'])
                    if st != 'completed' or nd != n:
                        raise RuntimeError('N=%d: %s with %d dispatches' %
                                           (n, st, nd))
                    if i:
                        times.append(dt)
                rss_loaded = B.rss_kb(pid)
                workers = B.children(stack.pid('nginx'))
                limits = {'pushd': fd_limit(pid), 'loadws':
                          fd_limit(load.pid), 'nginx worker': min(
                              (fd_limit(c) or 0 for c in workers),
                              default=None)}
                nginx_fds = [open_fds(c) for c in workers]
            finally:
                B.end_load(load)
                load_out.seek(0)
                stats = [l for l in load_out.read().splitlines()
                         if l.startswith('stat ')]
                load_out.close()
            errs = int(stats[-1].rsplit('errors=', 1)[1]) if stats else None
            B.wait(lambda: online(stack, prefix) == 0, 300,
                   'simulated workers offline', interval=0.25)
            per = (rss - base) / n
            data[n] = {'via': VIA, 'times_ms': times, 'connect_s': connect_s,
                       'pushd_rss_base_kb': base, 'pushd_rss_kb': rss,
                       'pushd_rss_after_runs_kb': rss_loaded,
                       'kb_per_conn': per, 'open_files_limits': limits,
                       'connect_failures': errs,
                       'nginx_worker_fds': nginx_fds}
            p50 = B.pct(times, 50)
            rows.append([n, VIA, B.fmt(connect_s, 's'), errs,
                         B.fmt(p50, 'ms'),
                         B.fmt(max(times), 'ms'), B.fmt(base / 1024, 'MB'),
                         B.fmt(rss / 1024, 'MB'), B.fmt(per, 'KB'),
                         ' '.join('%s %s' % kv for kv in limits.items()),
                         ' '.join(str(x) for x in nginx_fds)])
            goal = n == 10000
            res.key('scale_%d_p50_ms' % n, '%d simulated workers: POST to '
                    'completed, p50 (via %s)' % (n, VIA), p50, 'ms',
                    '< 2000 ms' if goal else None, p50 < 2000, via=VIA,
                    peer='max %s' % B.fmt(max(times), 'ms'))
            res.key('scale_%d_kb_per_conn' % n, 'pushd RSS per worker '
                    'connection (%d workers)' % n, per, 'KB', '<= 16 KB'
                    if goal else None, per <= 16, via=VIA)
        res.table('Scale: one `all` step on N simulated workers, %d runs'
                  % RUNS, ['N', 'via', 'all online after',
                           'connect failures (tried again)', 'p50', 'max',
                           'pushd RSS idle', 'pushd RSS with N',
                           'per connection', 'open files limits',
                           'nginx workers\' descriptors'], rows,
                  data)
    finally:
        stack.stop()


if __name__ == '__main__':
    sys.exit(B.main('scale', 'scale of fan-out', run))
