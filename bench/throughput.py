#!/usr/bin/env python3
"""Benchmark 3: execution throughput, latency at 80 % of it, overload.

10 real pulse-workers, 10 one-step workflows (`true` on one worker each).
Three phases, each on its own 10 workflows, each followed by a wait for
every execution to end:
 1. maximum: 8 client threads start executions round-robin as fast as the
    API takes them for 30 s (5 s in --quick): completed executions per
    second (first start to last completion, database times) and p50/p99
    of started_at -> completed_at (`throughput_per_s`, >= 150/s).
 2. paced: open loop at 80 % of that rate for 30 s (3 s in --quick): start
    i is sent at t0 + i / rate whatever the answers before it (a pool of
    client threads; a start sent late is counted): p99 from the moment a
    start was due to its completed_at (`latency_p99_ms_at_80pct`, < 1 s).
 3. overload: offered 2 x the maximum for as long: how many starts were
    accepted and refused (429 or 503), how many refusals carried
    Retry-After (`overload_refused_with_retry_after`), the p99 of the
    accepted ones as in 2 (`overload_accepted_p99_ms`), the backlog
    (executions running or waiting) at the end of the offer, and whether
    and when it drained.

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
PACED_S = 3 if B.QUICK else 30
PACERS = 64		# client threads of the open-loop phases
DRAIN_S = 60 if B.QUICK else 300	# the most an overload backlog is waited for
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


def pending(stack):
    """Executions not ended yet (the backlog)."""
    return int(stack.sql("SELECT COUNT(*) FROM executions WHERE status "
                         "IN ('running', 'waiting')").strip())


def ended_rows(stack, wids):
    """(id, status, started_at, completed_at) of the executions of wids,
    times as UNIX seconds (None when not set)."""
    out = stack.sql(
        "SELECT id, status, UNIX_TIMESTAMP(started_at), "
        "UNIX_TIMESTAMP(completed_at) FROM executions WHERE workflow_id IN "
        "(%s)" % ', '.join("'%s'" % w for w in wids))
    rows = []
    for line in out.splitlines():
        eid, st, s0, s1 = line.split('\t')
        rows.append((eid, st, None if s0 == 'NULL' else float(s0),
                     None if s1 == 'NULL' else float(s1)))
    return rows


def closed_loop(sock, wids, seconds):
    """THREADS clients starting executions as fast as pulse-api answers:
    (ids started, refusals (429 or 503), errors, seconds). A client
    refused waits as Retry-After says (at most 1 s), or 50 ms."""
    stop = time.monotonic() + seconds
    started, limited, errors = [], [0], []
    lock = threading.Lock()

    def client(k):
        http = B.Fcgi(sock)
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
                elif r[0] not in (429, 503):
                    errors.append('%s %s' % (r[0], str(r[2])[:200]))
                    continue
                else:
                    limited[0] += 1
            if r[0] != 201:
                try:
                    pause = float(r[1].get('retry-after', '0.05'))
                except ValueError:
                    pause = 0.05
                time.sleep(min(max(pause, 0.05), 1.0))

    threads = [threading.Thread(target=client, args=(k,))
               for k in range(THREADS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return started, limited[0], errors, time.monotonic() - t0


def open_loop(sock, wids, rate, seconds):
    """Starts offered at a fixed rate (open loop): start i is due at
    t0 + i / rate and sent then by the first free one of PACERS threads,
    whatever the answers before it. Returns a dict: sent (wall-clock
    time each accepted id was due), refused, refused_ra (refusals with a
    Retry-After header), errors, late (sent > 100 ms after due), post_ms
    (answer times), offered, seconds."""
    total = max(1, int(round(rate * seconds)))
    t0 = time.monotonic() + 0.05
    wall0 = time.time() + 0.05
    nxt = [0]
    out = {'sent': {}, 'refused': 0, 'refused_ra': 0, 'refused_status': {},
           'errors': [], 'late': 0, 'post_ms': [], 'offered': total}
    lock = threading.Lock()

    def pacer():
        http = B.Fcgi(sock)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= total:
                return
            due = t0 + i / rate
            wait_s = due - time.monotonic()
            if wait_s > 0:
                time.sleep(wait_s)
            m0 = time.monotonic()
            try:
                st, hdr, doc = http.post('/api/executions',
                                         {'workflow_id': wids[i % WORKERS]})
            except Exception as e:  # counted, the run goes on
                with lock:
                    out['errors'].append(str(e))
                continue
            with lock:
                out['post_ms'].append((time.monotonic() - m0) * 1000)
                if m0 - due > 0.1:
                    out['late'] += 1
                if st == 201:
                    # From when it was due: a start sent late because
                    # every thread waited on pulse-api waited too.
                    out['sent'][doc['id']] = wall0 + i / rate
                elif st in (429, 503):
                    out['refused'] += 1
                    out['refused_status'][st] = \
                        out['refused_status'].get(st, 0) + 1
                    if 'retry-after' in hdr:
                        out['refused_ra'] += 1
                else:
                    out['errors'].append('%s %s' % (st, str(doc)[:200]))

    threads = [threading.Thread(target=pacer) for _ in range(PACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out['seconds'] = time.monotonic() - t0
    return out


def drain(stack, limit):
    """Wait up to limit seconds for the backlog to end: (seconds, backlog
    left: 0 when drained)."""
    t0 = time.monotonic()
    left = pending(stack)
    while left and time.monotonic() - t0 < limit:
        time.sleep(0.5)
        left = pending(stack)
    return time.monotonic() - t0, left


def paced_phase(stack, sock, wids, rate, seconds):
    """An open-loop phase and its drain: the figures of one paced run."""
    samples = []
    stop = threading.Event()

    def sampler():		# the backlog while starts are offered
        while not stop.wait(1.0):
            try:
                samples.append(pending(stack))
            except Exception:  # a sample lost, not the run
                pass
    smp = threading.Thread(target=sampler)
    smp.start()
    try:
        o = open_loop(sock, wids, rate, seconds)
    finally:
        stop.set()
        smp.join()
    backlog_end = pending(stack)
    drain_s, left = drain(stack, DRAIN_S)
    lat, db_lat, not_done = [], [], 0
    for eid, st, s0, s1 in ended_rows(stack, wids):
        if eid not in o['sent']:
            continue
        if st != 'completed' or s1 is None:
            not_done += 1
            continue
        lat.append((s1 - o['sent'][eid]) * 1000)
        db_lat.append((s1 - s0) * 1000)
    o.update({'rate': rate, 'accepted': len(o['sent']),
              'completed': len(lat), 'not_completed': not_done,
              'p50_ms': B.pct(lat, 50), 'p99_ms': B.pct(lat, 99),
              'db_p99_ms': B.pct(db_lat, 99),
              'post_p99_ms': B.pct(o['post_ms'], 99),
              'backlog_max': max(samples + [backlog_end]),
              'backlog_end': backlog_end, 'drain_s': drain_s,
              'drained': left == 0, 'left': left})
    del o['sent'], o['post_ms']
    return o


def run(res):
    stack = B.Stack('throughput').start()
    try:
        names = ['tp%02d' % i for i in range(1, WORKERS + 1)]
        for name in names:
            stack.worker_start(name, 'tp', HEARTBEAT_INTERVAL=30,
                               MAX_CONCURRENT_TASKS=20)
        stack.wait_online(names)
        sink, rules = notify_rules(stack)
        phases = {}
        for tag in ('max', 'paced', 'over'):
            phases[tag] = [stack.create_workflow('bench tp %s %s' % (
                tag, n), [{'name': 'true', 'type': 'execute',
                           'targets': [n], 'command': 'true'}],
                notify=rules) for n in names]
        sock = os.path.join(stack.dir, 'run', 'api.sock')
        wids = phases['max']
        cpu0 = stack.cpu_parts()
        started, limited, errors, post_s = closed_loop(sock, wids, SECONDS)
        if not started:
            raise RuntimeError('no execution started: %s' % errors[:3])
        B.wait(lambda: pending(stack) == 0, 600, 'every execution to end',
               interval=0.5)
        cpu1 = stack.cpu_parts()
        lat, first, last, bad = [], None, None, 0
        for _, st, s0, s1 in ended_rows(stack, wids):
            if st != 'completed':
                bad += 1
                continue
            lat.append((s1 - s0) * 1000.0)
            first = s0 if first is None else min(first, s0)
            last = s1 if last is None else max(last, s1)
        if not lat:
            raise RuntimeError('no execution completed')
        rate = len(lat) / max(last - first, 0.001)
        p50, p99 = B.pct(lat, 50), B.pct(lat, 99)
        data = {'started': len(started), 'completed': len(lat),
                'not_completed': bad, 'rate_per_s': rate,
                'post_rate_per_s': len(started) / post_s,
                'refused': limited, 'errors': errors[:20],
                'latency_ms': {'p50': p50, 'p99': p99, 'max': max(lat)}}
        res.table('Throughput: %d workers, one-step executions for %d s, %d '
                  'client threads' % (WORKERS, SECONDS, THREADS),
                  ['started', 'completed', 'not completed', 'completed/s',
                   'POST/s', 'refused (429/503)', 'start->complete p50',
                   'p99'],
                  [[len(started), len(lat), bad, B.fmt(rate),
                    B.fmt(len(started) / post_s), limited,
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
        res.key('throughput_per_s', 'execution throughput (10 workers, '
                'one-step), completed/s', rate, '/s', '>= 150/s',
                rate >= 150, peer='StackStorm ~13/s')
        res.key('throughput_latency_p99_ms', 'start -> complete p99 at the '
                'maximum (closed loop: the backlog it builds)', p99, 'ms',
                None, None)
        res.key('server_cpu_ms_per_execution', 'server-side CPU per '
                'execution (nginx, pulse-api, pushd, MariaDB)', server, 'ms',
                None, None, peer='workers on this host: %s' %
                B.fmt(per['workers'], 'ms'))

        # Paced at 80 %, then offered 2 x: open loop, each on its own
        # workflows, each drained before the next.
        B.log('  paced at 80 %% of %.1f/s for %d s' % (rate, PACED_S))
        paced = paced_phase(stack, sock, phases['paced'], 0.8 * rate,
                            PACED_S)
        B.log('  offered 2 x %.1f/s for %d s' % (rate, PACED_S))
        over = paced_phase(stack, sock, phases['over'], 2 * rate, PACED_S)
        data['paced_80pct'], data['overload_2x'] = paced, over
        rows = []
        for what, d in (('80 %', paced), ('2 x', over)):
            rows.append([what, B.fmt(d['rate'], '/s'), d['offered'],
                         d['late'], d['accepted'], d['refused'],
                         d['refused_ra'], len(d['errors']),
                         B.fmt(d['p50_ms'], 'ms'), B.fmt(d['p99_ms'], 'ms'),
                         B.fmt(d['post_p99_ms'], 'ms'), d['backlog_max'],
                         d['backlog_end'],
                         ('%s s' % B.fmt(d['drain_s'])) if d['drained']
                         else 'no: %d left after %s s' % (
                             d['left'], B.fmt(d['drain_s']))])
        res.table('Open loop for %d s: starts offered at a fixed rate (a '
                  'fraction of the %s/s above), %d client threads; latency '
                  'from when a start was due to its completed_at; backlog = '
                  'executions '
                  'running or waiting' % (PACED_S, B.fmt(rate), PACERS),
                  ['offered at', 'rate', 'offered', 'sent late', 'accepted',
                   'refused (429/503)', 'with Retry-After', 'errors',
                   'p50', 'p99', 'POST p99', 'backlog max', 'at the end',
                   'drained in'], rows,
                  {'paced_80pct': paced, 'overload_2x': over})
        res.key('latency_p99_ms_at_80pct', 'start -> complete p99 at 80 % '
                'of the maximum (open loop)', paced['p99_ms'], 'ms',
                '< 1000 ms', (paced['p99_ms'] or 1e9) < 1000,
                peer='%d of %d completed' % (paced['completed'],
                                             paced['offered']))
        res.key('overload_accepted_p99_ms', 'offered 2 x the maximum: start '
                '-> complete p99 of the accepted starts',
                over['p99_ms'], 'ms', '< 1000 ms',
                (over['p99_ms'] or 1e9) < 1000,
                peer='%d accepted of %d offered' % (over['accepted'],
                                                    over['offered']))
        res.key('overload_refused_with_retry_after', 'offered 2 x the '
                'maximum: refused starts (429 or 503) with Retry-After',
                over['refused_ra'], '', '> 0, every refusal with '
                'Retry-After', over['refused_ra'] > 0 and
                over['refused_ra'] == over['refused'],
                peer='%d refused of %d offered' % (over['refused'],
                                                   over['offered']))
        res.key('overload_refused', 'offered 2 x the maximum: starts '
                'refused (429 or 503)', over['refused'], '', None, None)
        res.key('overload_backlog_drain_s', 'offered 2 x the maximum: '
                'seconds from the end of the offer until the backlog '
                '(%d at the end) had ended' % over['backlog_end'],
                over['drain_s'] if over['drained'] else None, 's', None,
                None, peer='drained' if over['drained'] else
                'not drained: %d left after %s s' % (over['left'],
                                                     B.fmt(over['drain_s'])))
        if NOTIFY:
            n_sent = len(sink.records)
            data['notifications_received'] = n_sent
            res.note('with a notify rule on every workflow '
                     '(BENCH_TP_NOTIFY=1): the receiver had %d messages '
                     'when the last execution ended' % n_sent)
        for what, errs in (('maximum', errors), ('80 %', paced['errors']),
                           ('2 x', over['errors'])):
            if errs:
                res.note('%s: %d requests failed, e.g. %s' % (
                    what, len(errs), errs[0]))
    finally:
        stack.stop()


if __name__ == '__main__':
    sys.exit(B.main('throughput', 'execution throughput', run))
