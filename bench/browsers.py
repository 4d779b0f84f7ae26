#!/usr/bin/env python3
"""Benchmark 6: browser fan-out.

1,000 dashboards (bench/loadws.c browser mode: websockets to /ws through
nginx, signed in as admin through the SSO stand-in, with a matching
Origin) subscribed to one execution whose steps alternate a prompt and a
command on local-1. Each round answers the prompt through the API and
the command runs; for the command's result (its dispatch_status event)
and the step's outcome (step_status), the latency is from the event's
time in the database to its arrival at each browser: p50 over sockets
and the time until every browser has it (max). 10 rounds (3 in --quick).
"""

import os
import subprocess
import sys
import tempfile
import threading
import time

import benchlib as B

BROWSERS = 1000
ROUNDS = 3 if B.QUICK else 10


def run(res):
    stack = B.Stack('browsers').start()
    tmp = tempfile.mkdtemp(prefix='pb-browsers.')
    out = os.path.join(tmp, 'arrivals.txt')
    try:
        steps = []
        for i in range(ROUNDS):
            steps.append({'name': 'go %d' % i, 'type': 'prompt',
                          'message': 'Next?', 'options': ['Yes']})
            steps.append({'name': 'run %d' % i, 'type': 'execute',
                          'targets': ['local-1'], 'command': 'echo %d' % i})
        wid = stack.create_workflow('bench browsers', steps)
        eid = stack.start_execution(wid)
        B.wait(lambda: stack.execution(eid)['status'] == 'waiting', 60,
               'the first prompt')
        load = subprocess.Popen([B.LOADWS, 'browser', '-a', 'admin:admin',
                                 '-n', str(BROWSERS), '-e', eid, '-o', out,
                                 '-H', '127.0.0.1', '-P', str(stack.port)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        stat = {}

        def reader():
            for line in load.stdout:
                if line.startswith('stat '):
                    stat.update(kv.split('=') for kv in line.split()[1:])
        threading.Thread(target=reader, daemon=True).start()
        t0 = time.monotonic()
        B.wait(lambda: int(stat.get('ready', 0)) >= BROWSERS, 180,
               '%d browsers' % BROWSERS, interval=0.2)
        connect_s = time.monotonic() - t0
        time.sleep(1.0)		# the subscribe messages are in
        for i in range(ROUNDS):
            r = stack.http.post('/api/executions/%s/respond' % eid,
                                {'response': 'Yes'})
            if r[0] != 200:
                raise RuntimeError('respond: %s %s' % (r[0], r[2]))
            want = 'waiting' if i < ROUNDS - 1 else 'completed'
            B.wait(lambda: stack.execution(eid)['status'] == want, 60,
                   'round %d' % i)
            time.sleep(0.5)
        time.sleep(1.0)
        load.stdin.close()
        load.wait(60)
        errors = int(stat.get('errors', 0))
        closed = int(stat.get('closed', 0))

        events = {}
        for line in stack.sql(
                "SELECT id, type, UNIX_TIMESTAMP(created_at), "
                "JSON_UNQUOTE(JSON_EXTRACT(payload, '$.status')), "
                "JSON_EXTRACT(payload, '$.step') FROM events WHERE "
                "execution_id = '%s'" % eid).splitlines():
            i, t, ts, status, step = line.split('\t')
            events[int(i)] = (t, float(ts), status, step)
        arrivals = {}
        with open(out) as f:
            for line in f:
                ev, t, sock, usec = line.split()
                arrivals.setdefault(int(ev), []).append(int(usec) / 1e6)
        rows, data = [], []
        for ev in sorted(events):
            t, ts, status, step = events[ev]
            if not ((t == 'dispatch_status' and status == 'succeeded') or
                    (t == 'step_status' and status == 'succeeded')):
                continue
            got = arrivals.get(ev, [])
            lat = [(a - ts) * 1000 for a in got]
            data.append({'event_id': ev, 'type': t, 'browsers': len(got),
                         'p50_ms': B.pct(lat, 50), 'p99_ms': B.pct(lat, 99),
                         'all_ms': max(lat) if lat else None})
        if not data:
            raise RuntimeError('no step result reached the browsers')
        for t in ('dispatch_status', 'step_status'):
            d = [x for x in data if x['type'] == t]
            complete = sum(1 for x in d if x['browsers'] == BROWSERS)
            rows.append([t + ' succeeded', len(d),
                         '%d/%d' % (complete, len(d)),
                         B.fmt(B.median([x['p50_ms'] for x in d]), 'ms'),
                         B.fmt(B.median([x['all_ms'] for x in d]), 'ms'),
                         B.fmt(max(x['all_ms'] for x in d), 'ms')])
        res.table('Browser fan-out: %d browsers subscribed, %d rounds; '
                  'latency from the event in the database (connected in %s, '
                  '%d errors, %d closed)' % (BROWSERS, ROUNDS,
                                             B.fmt(connect_s, 's'), errors,
                                             closed),
                  ['event', 'rounds', 'reached all', 'p50 over sockets '
                   '(median)', 'until all have it (median)', 'worst'],
                  rows, {'events': data, 'connect_s': connect_s,
                         'errors': errors, 'closed': closed})
        d = [x for x in data if x['type'] == 'dispatch_status']
        allms = B.median([x['all_ms'] for x in d])
        res.figure('step result to all %d browsers (median of rounds)'
                   % BROWSERS, B.fmt(allms, 'ms'),
                   'pushd polls every 50 ms', '', None)
        if any(x['browsers'] != BROWSERS for x in data):
            res.note('some events did not reach every browser: %s' %
                     [(x['event_id'], x['browsers']) for x in data
                      if x['browsers'] != BROWSERS][:5])
    finally:
        stack.stop()
        subprocess.run(['rm', '-rf', tmp])


if __name__ == '__main__':
    sys.exit(B.main('browsers', 'browser fan-out', run))
