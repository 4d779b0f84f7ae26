#!/usr/bin/env python3
"""Benchmark 7: what per-worker keys cost (issue 13).

- Enrollment: N workers enroll through nginx with one token of N uses
  (POST /api/workers/enroll, as pulse-worker does on its first start),
  16 at a time; each enrollment is a token use, a worker row, a key hash
  and an audit row in one transaction. nginx's per-address limit is
  policy and is stepped around (benchlib.enroll).
- Connect and reconnect: the N enrolled workers open their sockets
  through nginx (bench/loadws.c -K: own key and X-Worker-Id on every
  socket; pushd checks the key's hash at worker_connect) until the
  database shows all N online; then all of them go away and come back,
  the rate a pushd restart or a network blip asks for.
"""

import subprocess
import sys
import time

import benchlib as B

N = 200 if B.QUICK else 1000


def online(stack, prefix):
    out = stack.sql("SELECT COUNT(*) FROM workers WHERE status = 'online' "
                    "AND name LIKE '%s-%%'" % prefix)
    return int(out.strip() or 0)


def connect_all(stack, keys, prefix):
    """Start loadws with the N keyed workers; seconds until all online."""
    t0 = time.monotonic()
    load = subprocess.Popen([B.LOADWS, 'worker', '-K', keys, '-n', str(N),
                             '-p', prefix, '-H', '127.0.0.1',
                             '-P', str(stack.port)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        B.wait(lambda: online(stack, prefix) >= N, 300,
               '%d enrolled workers online' % N, interval=0.1)
    except Exception:
        B.end_load(load)
        raise
    return load, time.monotonic() - t0


def stop_load(stack, load, prefix):
    B.end_load(load)
    B.wait(lambda: online(stack, prefix) == 0, 120, 'workers offline',
           interval=0.1)


def run(res):
    stack = B.Stack('trust').start()
    prefix = 'tr'
    try:
        keys, took = B.enroll(stack, prefix, N)
        rate = N / took
        keyed = int(stack.sql(
            "SELECT COUNT(*) FROM workers w JOIN worker_keys k ON "
            "k.worker_id = w.id WHERE w.name LIKE '%s-%%' AND "
            "w.state = 'accepted' AND k.revoked_at IS NULL" % prefix).strip())
        if keyed != N:
            raise RuntimeError('%d of %d enrolled workers have a live key'
                               % (keyed, N))
        load, first = connect_all(stack, keys, prefix)
        stop_load(stack, load, prefix)
        load, again = connect_all(stack, keys, prefix)
        stop_load(stack, load, prefix)
        refused = int(stack.sql(
            "SELECT COUNT(*) FROM audit_log WHERE action = "
            "'worker.key_refused'").strip() or 0)
        if refused:
            raise RuntimeError('%d key refusals during the run' % refused)
        res.figure('enroll %d workers through nginx (token, 16 at a time)'
                   % N, B.fmt(took, 's'), '', '', None)
        res.figure('enrollments per second', B.fmt(rate, '/s'), '', '', None)
        res.figure('%d keyed workers connect, all online' % N,
                   B.fmt(first, 's'), '', '', None)
        res.figure('reconnect rate with per-worker key checks',
                   B.fmt(N / again, '/s'), '', '', None)
        res.table('Per-worker keys: enrollment and reconnects, N = %d' % N,
                  ['what', 'time', 'rate'],
                  [['enroll (POST /api/workers/enroll)', B.fmt(took, 's'),
                    B.fmt(rate, '/s')],
                   ['first connect, all online', B.fmt(first, 's'),
                    B.fmt(N / first, '/s')],
                   ['reconnect, all online', B.fmt(again, 's'),
                    B.fmt(N / again, '/s')]],
                  {'n': N, 'enroll_s': took, 'connect_s': first,
                   'reconnect_s': again})
    finally:
        stack.stop()


if __name__ == '__main__':
    sys.exit(B.main('trust', 'per-worker keys: enrollment, reconnects', run))
