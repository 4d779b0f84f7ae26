#!/usr/bin/env python3
"""Benchmark 3: execution throughput.

10 real pulse-workers, 10 one-step workflows (`true` on one worker each);
client threads start executions round-robin as fast as the API takes them
for 30 s (5 s in --quick), then wait for every one to end. Figures:
completed executions per second (from the first start to the last
completion, database times) and p50/p99 of started_at -> completed_at.

nginx limits POST /api/executions to 10 per second per SSO user (burst
20; nginx/pulse-http.conf) to stop a runaway script, so the starts here
go straight to pulse-api's FastCGI socket with the parameters nginx
would pass (user admin): this measures PULSE, not the policy.

BENCH_TP_NOTIFY=1 gives every workflow a `notify` rule (completed and
failed) to a signed webhook on a local receiver (issue 16: notifications
must not slow dispatch): each execution's end then also writes its
outbox row, and pushd's delivery thread sends them meanwhile. Compare a
run with it and one without.
"""

import os
import sys
import threading
import time

import benchlib as B

WORKERS = 10
THREADS = 8
SECONDS = 5 if B.QUICK else 30
NOTIFY = os.environ.get('BENCH_TP_NOTIFY', '') == '1'


def notify_rules(stack):
    """A channel to a local receiver that answers 200 at once, and the
    workflows' rule naming it; (receiver, rules) or (None, None)."""
    if not NOTIFY:
        return None, None
    from notifylib import Receiver  # tests/integration, on benchlib's path
    sink = Receiver(lambda path: (200, 0, 'ok'))
    st, _, ch = stack.http.post('/api/channels', {
        'name': 'bench-tp-sink', 'type': 'webhook', 'url': sink.url('/tp')})
    if st != 201:
        raise RuntimeError('create channel: %s %s' % (st, ch))
    return sink, [{'channel': 'bench-tp-sink', 'on': ['completed', 'failed']}]


def run(res):
    stack = B.Stack('throughput').start()
    try:
        names = ['tp%02d' % i for i in range(1, WORKERS + 1)]
        for name in names:
            stack.worker_start(name, 'tp', HEARTBEAT_INTERVAL=30,
                               MAX_CONCURRENT_TASKS=20)
        stack.wait_online(names)
        sink, rules = notify_rules(stack)
        wids = [stack.create_workflow('bench tp %s' % n, [{
            'name': 'true', 'type': 'execute', 'targets': [n],
            'command': 'true'}], notify=rules) for n in names]
        stop = time.monotonic() + SECONDS
        started, limited, errors = [], [0], []
        lock = threading.Lock()

        def client(k):
            http = B.Fcgi(os.path.join(stack.dir, 'run', 'api.sock'))
            i = k
            while time.monotonic() < stop:
                try:
                    r = http.post('/api/executions',
                                  {'workflow_id': wids[i % WORKERS]})
                except Exception as e:  # counted, the run goes on
                    with lock:
                        errors.append(str(e))
                    continue
                i += 1
                with lock:
                    if r[0] == 201:
                        started.append(r[2]['id'])
                    elif r[0] == 429:
                        limited[0] += 1
                    else:
                        errors.append('%s %s' % (r[0], str(r[2])[:200]))

        threads = [threading.Thread(target=client, args=(k,))
                   for k in range(THREADS)]
        cpu0 = stack.cpu_parts()
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        post_s = time.monotonic() - t0
        if not started:
            raise RuntimeError('no execution started: %s' % errors[:3])

        def pending():
            out = stack.sql("SELECT COUNT(*) FROM executions WHERE status "
                            "IN ('running', 'waiting')")
            return int(out.strip()) == 0
        B.wait(pending, 600, 'every execution to end', interval=0.5)
        cpu1 = stack.cpu_parts()
        out = stack.sql(
            "SELECT status, TIMESTAMPDIFF(MICROSECOND, started_at, "
            "completed_at), UNIX_TIMESTAMP(started_at), "
            "UNIX_TIMESTAMP(completed_at) FROM executions e JOIN workflows w "
            "ON w.id = e.workflow_id WHERE w.name LIKE 'bench tp %'")
        lat, first, last, bad = [], None, None, 0
        for line in out.splitlines():
            st, us, s0, s1 = line.split('\t')
            if st != 'completed':
                bad += 1
                continue
            lat.append(int(us) / 1000.0)
            first = float(s0) if first is None else min(first, float(s0))
            last = float(s1) if last is None else max(last, float(s1))
        if not lat:
            raise RuntimeError('no execution completed')
        rate = len(lat) / max(last - first, 0.001)
        p50, p99 = B.pct(lat, 50), B.pct(lat, 99)
        data = {'started': len(started), 'completed': len(lat),
                'not_completed': bad, 'rate_per_s': rate,
                'post_rate_per_s': len(started) / post_s,
                'http_429': limited[0], 'errors': errors[:20],
                'latency_ms': {'p50': p50, 'p99': p99, 'max': max(lat)}}
        res.table('Throughput: %d workers, one-step executions for %d s, %d '
                  'client threads' % (WORKERS, SECONDS, THREADS),
                  ['started', 'completed', 'not completed', 'completed/s',
                   'POST/s', '429s', 'start->complete p50', 'p99'],
                  [[len(started), len(lat), bad, B.fmt(rate),
                    B.fmt(len(started) / post_s), limited[0],
                    B.fmt(p50, 'ms'), B.fmt(p99, 'ms')]], data)
        # Where the CPU went: the two cores are shared by the server side
        # and the ten workers, which on a real fleet have hosts of their own.
        per = {k: (cpu1[k] - cpu0[k]) * 1000.0 / len(lat) for k in cpu0}
        server = per['nginx'] + per['api'] + per['pushd'] + per['mariadb']
        data['cpu_ms_per_execution'] = per
        res.table('CPU per completed execution (from the first start until '
                  'the last ended; workers include their commands)',
                  ['nginx', 'pulse-api', 'pushd', 'MariaDB', 'server side',
                   'workers'],
                  [[B.fmt(per['nginx'], 'ms'), B.fmt(per['api'], 'ms'),
                    B.fmt(per['pushd'], 'ms'), B.fmt(per['mariadb'], 'ms'),
                    B.fmt(server, 'ms'), B.fmt(per['workers'], 'ms')]], per)
        res.figure('server-side CPU per execution (nginx, pulse-api, pushd, '
                   'MariaDB)', B.fmt(server, 'ms'),
                   'workers on this host: %s' % B.fmt(per['workers'], 'ms'),
                   '', None)
        res.figure('execution throughput (10 workers, one-step)',
                   B.fmt(rate, '/s'), 'StackStorm ~13/s', '>= 100/s',
                   rate >= 100)
        res.figure('execution start -> complete, p99 (under that load)',
                   B.fmt(p99, 'ms'), '', '', None)
        if NOTIFY:
            n_sent = len(sink.records)
            data['notifications_received'] = n_sent
            res.note('with a notify rule on every workflow '
                     '(BENCH_TP_NOTIFY=1): the receiver had %d messages '
                     'when the last execution ended' % n_sent)
        if errors:
            res.note('%d requests failed, e.g. %s' % (len(errors),
                                                      errors[0]))
    finally:
        stack.stop()


if __name__ == '__main__':
    sys.exit(B.main('throughput', 'execution throughput', run))
