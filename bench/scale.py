#!/usr/bin/env python3
"""Benchmark 2: the scale of fan-out.

N simulated workers (bench/loadws.c: one process, N websockets, every
execute_command answered at once), each enrolled first with its own key and one workflow with a single step
targeting `all`: the time from POST /api/executions until the API shows
it completed, and pushd's resident memory per worker connection
((RSS with N connected - RSS of a fresh pushd) / N). pushd is restarted
before each N so the baseline is a fresh process. The real workers
local-1/local-2 are stopped: `all` means the simulated ones only.

Up to 1,000 workers connect through nginx, as real ones do. The dev nginx
(nginx/dev) allows 2 x 4096 connections and a proxied websocket takes two:
5,000 connect straight to pushd's worker socket (said in the table).
"""

import os
import signal
import subprocess
import sys
import time

import benchlib as B

NS = [100] if B.QUICK else [100, 1000, 5000]
if os.environ.get('BENCH_SCALE_NS'):	# e.g. 1000 (one size, when profiling)
    NS = [int(x) for x in os.environ['BENCH_SCALE_NS'].split(',')]
RUNS = 3 if B.QUICK else 5
NGINX_MAX = 1000


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
            via = 'nginx'
            if n > NGINX_MAX:
                argv += ['-U', os.path.join(stack.dir, 'run',
                                            'pushd-worker.sock')]
                via = 'pushd socket'
            else:
                argv += ['-H', '127.0.0.1', '-P', str(stack.port)]
            t0 = time.monotonic()
            load = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL)
            try:
                B.wait(lambda: online(stack, prefix) >= n, 300,
                       '%d simulated workers online' % n, interval=0.25)
                connect_s = time.monotonic() - t0
                time.sleep(2.0)		# registration work settles
                rss = B.rss_kb(pid)
                times = []
                for i in range(RUNS + 1):
                    t1 = time.monotonic()
                    eid = stack.start_execution(wid)
                    while True:
                        r = stack.http.get('/api/executions/%s' % eid)
                        if r[0] == 200 and r[2]['status'] in B.FINAL:
                            break
                        if time.monotonic() - t1 > 300:
                            raise RuntimeError('%s did not finish' % eid)
                        time.sleep(0.005)
                    dt = (time.monotonic() - t1) * 1000
                    e = r[2]
                    nd = sum(len(s.get('dispatches') or [])
                             for s in e['steps'])
                    if e['status'] != 'completed' or nd != n:
                        raise RuntimeError('N=%d: %s with %d dispatches' %
                                           (n, e['status'], nd))
                    if i:
                        times.append(dt)
                rss_loaded = B.rss_kb(pid)
            finally:
                B.end_load(load)
            B.wait(lambda: online(stack, prefix) == 0, 120,
                   'simulated workers offline', interval=0.25)
            per = (rss - base) / n
            data[n] = {'via': via, 'times_ms': times, 'connect_s': connect_s,
                       'pushd_rss_base_kb': base, 'pushd_rss_kb': rss,
                       'pushd_rss_after_runs_kb': rss_loaded,
                       'kb_per_conn': per}
            p50 = B.pct(times, 50)
            rows.append([n, via, B.fmt(connect_s, 's'), B.fmt(p50, 'ms'),
                         B.fmt(max(times), 'ms'), B.fmt(base / 1024, 'MB'),
                         B.fmt(rss / 1024, 'MB'), B.fmt(per, 'KB')])
            res.figure('%d simulated workers: POST to completed, p50 (%s)'
                       % (n, via), B.fmt(p50, 'ms'), '',
                       '< 1 s' if n == 1000 else '',
                       p50 < 1000 if n == 1000 else None)
            res.figure('pushd RSS per worker connection (%d workers)' % n,
                       B.fmt(per, 'KB'), '', '<= 16 KB', per <= 16)
        res.table('Scale: one `all` step on N simulated workers, %d runs'
                  % RUNS, ['N', 'via', 'all online after', 'p50', 'max',
                           'pushd RSS idle', 'pushd RSS with N',
                           'per connection'], rows, data)
    finally:
        stack.stop()


if __name__ == '__main__':
    sys.exit(B.main('scale', 'scale of fan-out', run))
