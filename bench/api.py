#!/usr/bin/env python3
"""Benchmark 4: the REST API under wrk, through nginx.

wrk -t2 -c50 (10 s; 3 s in --quick) on GET /api/workflows (100 workflows),
GET /api/executions, GET /api/executions/:id (a 10-step execution with
output), POST /api/executions (a prompt-only workflow: the start path,
no worker work), a static dashboard file and GET /health, all in the
same run; req/s, p50/p99 and the ratio to /health.

Every /api/* and static request is signed in through nginx's auth_request
to the dev SSO stand-in (HTTP basic, salted SHA-1), as a browser's would
be; /health is not. The reads' reference (issue 20) is the static file,
signed in the same way through the same nginx in the same run (checked:
without credentials it is refused): `reads_share_of_static` is the lower
of the two reads' req/s over the static file's (target >= 0.5),
`reads_p99_ms` the higher of their p99s (target < 10 ms).
POST /api/executions through nginx meets the per-user rate limit (10/s,
burst 20): the wrk row shows the policy at
work (429s), and a second row starts executions straight on pulse-api's
FastCGI socket (8 Python threads, one connection per request, like nginx).
"""

import base64
import os
import re
import subprocess
import sys
import threading
import time

import benchlib as B

DURATION = 3 if B.QUICK else 10
CONNS = 50


def wrk(url, auth, script=None):
    argv = ['wrk', '-t2', '-c%d' % CONNS, '-d%ds' % DURATION, '--latency',
            '-H', 'Authorization: Basic ' + auth]
    if script:
        argv += ['-s', script]
    r = subprocess.run(argv + [url], capture_output=True, text=True,
                       timeout=DURATION + 60)
    out = r.stdout
    if r.returncode != 0 or 'Requests/sec' not in out:
        raise RuntimeError('wrk %s: %s' % (url, (out + r.stderr)[-500:]))
    rps = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))

    def ms(label):
        m = re.search(r'^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$' % label, out, re.M)
        if not m:
            return None
        v = float(m.group(1))
        return {'us': v / 1000, 'ms': v, 's': v * 1000}[m.group(2)]
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    total = re.search(r'(\d+) requests in', out)
    return {'rps': rps, 'p50': ms('50'), 'p99': ms('99'),
            'non2xx': int(m.group(1)) if m else 0,
            'requests': int(total.group(1)) if total else 0, 'raw': out}


def fcgi_posts(sock, wid, seconds, threads=8):
    lat, lock = [], threading.Lock()
    stop = time.monotonic() + seconds
    bad = [0]

    def client():
        f = B.Fcgi(sock)
        while time.monotonic() < stop:
            t0 = time.monotonic()
            st = f.post('/api/executions', {'workflow_id': wid})[0]
            dt = (time.monotonic() - t0) * 1000
            with lock:
                if st == 201:
                    lat.append(dt)
                else:
                    bad[0] += 1
    ts = [threading.Thread(target=client) for _ in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {'rps': len(lat) / (time.monotonic() - t0), 'p50': B.pct(lat, 50),
            'p99': B.pct(lat, 99), 'non2xx': bad[0], 'requests': len(lat)}


def run(res):
    stack = B.Stack('api').start()
    try:
        http = stack.http
        for i in range(100 - len(http.get('/api/workflows')[2])):
            stack.create_workflow('bench api %03d' % i, [{
                'name': 'df', 'type': 'execute', 'targets': ['all'],
                'command': 'df -h', 'timeout': 60000}, B_PROMPT])
        ten = stack.create_workflow('bench api ten steps', [{
            'name': 'step %d' % i, 'type': 'execute', 'targets': ['local-1'],
            'command': 'seq 1 100'} for i in range(10)])
        eid = stack.start_execution(ten)
        B.wait(lambda: stack.execution(eid)['status'] in B.FINAL, 120,
               'the 10-step execution')
        prompt = stack.create_workflow('bench api prompt', [B_PROMPT])
        auth = base64.b64encode(b'admin:admin').decode()
        base = stack.url
        lua = os.path.join(stack.dir, 'post.lua')
        with open(lua, 'w') as f:
            f.write('wrk.method = "POST"\nwrk.body = \'{"workflow_id":"%s"}\''
                    '\nwrk.headers["Content-Type"] = "application/json"\n'
                    % prompt)
        cases = [
            ('GET /health (no sign-in)', base + '/health', None),
            ('GET /index.html (static, signed in)', base + '/index.html',
             None),
            ('GET /api/workflows (100)', base + '/api/workflows', None),
            ('GET /api/executions', base + '/api/executions', None),
            ('GET /api/executions/:id (10 steps)',
             base + '/api/executions/' + eid, None),
            ('POST /api/executions (nginx, rate-limited)',
             base + '/api/executions', lua),
        ]
        # The reference must pay the sign-in the reads pay.
        import http.client
        c = http.client.HTTPConnection('127.0.0.1', stack.port, timeout=30)
        c.request('GET', '/index.html')
        st = c.getresponse().status
        c.close()
        if st != 401:
            raise RuntimeError('GET /index.html without credentials: %d, '
                               'not 401: the static reference would not be '
                               'signed in' % st)
        rows, data = [], {}
        for name, url, script in cases:
            B.log('  wrk ' + name)
            data[name] = wrk(url, auth, script)
            time.sleep(1)
        B.log('  FastCGI POST')
        data['POST /api/executions (FastCGI direct)'] = fcgi_posts(
            os.path.join(stack.dir, 'run', 'api.sock'), prompt, DURATION)
        health = data['GET /health (no sign-in)']['rps']
        static_rps = data['GET /index.html (static, signed in)']['rps']
        for name, d in data.items():
            d.pop('raw', None) if name != 'GET /health (no sign-in)' else None
            rows.append([name, B.fmt(d['rps']), B.fmt(d['p50'], 'ms'),
                         B.fmt(d['p99'], 'ms'), d['non2xx'],
                         '%.0f %%' % (100 * d['rps'] / health),
                         '%.0f %%' % (100 * d['rps'] / static_rps)])
        res.table('API: wrk -t2 -c%d -d%ds through nginx (same run)'
                  % (CONNS, DURATION), ['request', 'req/s', 'p50', 'p99',
                                        'non-2xx', 'of /health',
                                        'of static'], rows, data)
        static = data['GET /index.html (static, signed in)']
        reads = {'executions': data['GET /api/executions'],
                 'workflows': data['GET /api/workflows (100)']}
        shares = {k: d['rps'] / static['rps'] for k, d in reads.items()}
        p99s = {k: d['p99'] for k, d in reads.items()}
        low = min(shares, key=shares.get)
        share = shares[low]
        worst = None if None in p99s.values() else max(p99s.values())
        res.key('reads_share_of_static', 'GET /api/executions and '
                '/api/workflows (100): the lower req/s over a signed-in '
                'static file\'s (wrk -c%d through nginx)' % CONNS, share, '',
                '>= 0.5', share >= 0.5,
                peer='static %s req/s; executions %s, workflows %s req/s' % (
                    B.fmt(static['rps']), B.fmt(reads['executions']['rps']),
                    B.fmt(reads['workflows']['rps'])))
        res.key('reads_p99_ms', 'GET /api/executions and /api/workflows '
                '(100): the higher p99', worst, 'ms', '< 10 ms',
                worst is not None and worst < 10,
                peer='static p99 %s' % B.fmt(static['p99'], 'ms'))
        for k in ('executions', 'workflows'):
            res.key('reads_%s_share_of_static' % k, 'GET /api/%s%s: req/s '
                    'over the static file\'s' % (
                        k, ' (100)' if k == 'workflows' else ''),
                    shares[k], '', None, None,
                    peer='p99 %s' % B.fmt(p99s[k], 'ms'))
        d = data['GET /api/executions/:id (10 steps)']
        res.figure('GET /api/executions/:id (10 steps): req/s (p99)',
                   '%s (%s)' % (B.fmt(d['rps']), B.fmt(d['p99'], 'ms')),
                   'static %s' % B.fmt(static['rps']), '', None)
        d = data['POST /api/executions (FastCGI direct)']
        res.figure('POST /api/executions (FastCGI direct): req/s (p99)',
                   '%s (%s)' % (B.fmt(d['rps']), B.fmt(d['p99'], 'ms')),
                   '/health %s' % B.fmt(health), '', None)
    finally:
        stack.stop()


B_PROMPT = {'name': 'ok?', 'type': 'prompt', 'message': 'Proceed?',
            'options': ['Yes', 'No']}

if __name__ == '__main__':
    sys.exit(B.main('api', 'REST API through nginx', run))
