#!/usr/bin/env python3
"""What the audit trail costs writers (issue 13): workflow saves per second
(PUT /api/workflows/:id through nginx, each thread its own workflow) and
execution starts per second (POST /api/executions of a prompt-only
workflow, straight to pulse-api's FastCGI socket as throughput.py does:
nginx's 10/s per-user limit would measure the policy). Every one of them
writes an audit row (and a save a version) under the one chain-head lock,
so this is where that lock would show.

Against a running stack, so that two builds can be compared the same way
on the same machine, in turns:
    set -a; . DIR/test.env; set +a
    python3 bench/audit.py [--seconds 10] [--threads 8] [--rounds 3]
prints one line per round and kind, then the medians.
"""

import argparse
import os
import statistics
import sys
import threading
import time
import urllib.parse

import benchlib as B


def measure(seconds, threads, fn):
    """fn(i) once per call from `threads` threads for `seconds`: ok/s."""
    stop = time.monotonic() + seconds
    counts = [0] * threads
    errors = []

    def loop(i):
        while time.monotonic() < stop:
            st = fn(i)
            if 200 <= st < 300:
                counts[i] += 1
            else:
                errors.append(st)
    ts = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.monotonic() - t0), errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seconds', type=float, default=10)
    ap.add_argument('--threads', type=int, default=8)
    ap.add_argument('--rounds', type=int, default=3)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(os.environ['PULSE_URL'])
    sock = os.path.join(os.environ['PULSE_STACK'], 'run', 'api.sock')
    https = [B.Http(u.hostname, u.port) for _ in range(a.threads)]
    fcgi = B.Fcgi(sock)
    steps = [{'name': 'ask', 'type': 'prompt', 'message': 'ok?',
              'options': ['Yes', 'No']}]
    wids = []
    for i in range(a.threads):
        st, _, doc = https[i].post('/api/workflows', {
            'name': 'bench-audit-%d-%d' % (os.getpid(), i),
            'definition': {'steps': steps}})
        if st != 201:
            sys.exit('creating a workflow: %s %s' % (st, doc))
        wids.append(doc['id'])
    n = [0] * a.threads

    def save(i):
        n[i] += 1
        return https[i].request('PUT', '/api/workflows/' + wids[i], {
            'name': 'bench-audit-%d-%d' % (os.getpid(), i),
            'description': 'save %d' % n[i],
            'definition': {'steps': steps}})[0]

    def start(i):
        return fcgi.post('/api/executions', {'workflow_id': wids[i]})[0]

    res = {'saves': [], 'starts': []}
    for r in range(a.rounds):
        for kind, fn in (('saves', save), ('starts', start)):
            rate, errors = measure(a.seconds, a.threads, fn)
            res[kind].append(rate)
            print('round %d %-6s %8.1f /s%s' % (
                r + 1, kind, rate, '  errors: %d (%s)' % (
                    len(errors), sorted(set(errors))) if errors else ''),
                flush=True)
    for kind in res:
        print('median %-6s %8.1f /s' % (kind, statistics.median(res[kind])))
    # The workflows and their waiting executions stay: run this against a
    # stack of its own (./pulse-dev stack DIR), not one you keep.


if __name__ == '__main__':
    main()
