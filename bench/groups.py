#!/usr/bin/env python3
"""Benchmark 8: reading a step on 1,000 workers (SPEC section 17).

One execute step on N simulated workers (bench/loadws.c -m groups: most
print "ok", every 10th exits 1, every 25th exits 2 with stderr), then the
execution's JSON as the dashboard loads it (?view=groups: groups, one sample
each, no dispatches) and as version 1 did (the default view: every
dispatch with its output), each GET 20 times on one keep-alive connection
through nginx: bytes and p50. And the execution page in chromium (when
tests/e2e's playwright-core is installed): navigation start to the groups
drawn, p50 of 5 loads.
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import time

import benchlib as B

N = 200 if B.QUICK else 1000
GETS = 5 if B.QUICK else 20
LOADS = 2 if B.QUICK else 5


def online(stack, prefix):
    out = stack.sql("SELECT COUNT(*) FROM workers WHERE status = 'online' "
                    "AND name LIKE '%s-%%'" % prefix)
    return int(out.strip() or 0)


def gets(stack, path):
    """(bytes, [ms]) of GETS requests on one keep-alive connection."""
    auth = 'Basic ' + base64.b64encode(b'admin:admin').decode()
    conn = http.client.HTTPConnection('127.0.0.1', stack.port, timeout=60)
    times, size = [], 0
    try:
        for i in range(GETS + 1):
            t = time.monotonic()
            conn.request('GET', path, headers={'Authorization': auth})
            r = conn.getresponse()
            raw = r.read()
            dt = (time.monotonic() - t) * 1000
            if r.status != 200:
                raise RuntimeError('GET %s: %d' % (path, r.status))
            size = len(raw)
            if i:		# the first warms the caches
                times.append(dt)
    finally:
        conn.close()
    return size, times


def page_ms(stack, eid, ngroups):
    """Page render times, or None (and why) without chromium."""
    mods = os.path.join(B.REPO, 'tests', 'e2e', 'node_modules',
                        'playwright-core')
    if not os.path.isdir(mods):
        return None, 'tests/e2e/node_modules has no playwright-core ' \
            '(cd tests/e2e && npm ci)'
    if not os.path.exists(os.environ.get('PULSE_CHROMIUM',
                                         '/usr/bin/chromium')):
        return None, 'no chromium'
    r = subprocess.run(['node', os.path.join(B.HERE, 'groups_page.mjs'),
                        stack.url, eid, str(ngroups), str(LOADS)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return None, 'chromium: ' + (r.stderr.strip()[-300:] or 'failed')
    return json.loads(r.stdout), None


def run(res):
    stack = B.Stack('groups').start()
    prefix = 'gr'
    try:
        stack.ctl('worker-stop', 'local-1')
        stack.ctl('worker-stop', 'local-2')
        keys, _ = B.enroll(stack, prefix, N)
        load = subprocess.Popen([B.LOADWS, 'worker', '-K', keys, '-n',
                                 str(N), '-p', prefix, '-m', 'groups',
                                 '-H', '127.0.0.1', '-P', str(stack.port)],
                                stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL)
        try:
            B.wait(lambda: online(stack, prefix) >= N, 300,
                   '%d simulated workers online' % N, interval=0.25)
            wid = stack.create_workflow('bench groups', [{
                'name': 'check', 'type': 'execute', 'targets': ['bench'],
                'command': 'check-service'}])
            eid = stack.start_execution(wid)
            B.wait(lambda: stack.execution(eid)['status'] in B.FINAL, 300,
                   'the execution to end', interval=0.1)
            g = stack.http.get('/api/executions/%s?view=groups' % eid)[2]
            counts = [x['count'] for x in g['steps'][0]['groups']]
            if sum(counts) != N or len(counts) != 3:
                raise RuntimeError('groups: %s' % counts)
            gsize, gtimes = gets(stack, '/api/executions/%s?view=groups'
                                 % eid)
            fsize, ftimes = gets(stack, '/api/executions/%s' % eid)
            pg, why = page_ms(stack, eid, len(counts))
        finally:
            B.end_load(load)
        gp50, fp50 = B.pct(gtimes, 50), B.pct(ftimes, 50)
        res.figure('%d workers: GET ?view=groups, size' % N,
                   B.fmt(gsize / 1024.0, 'KB'), 'default view %s' %
                   B.fmt(fsize / 1024.0, 'KB'), '', None)
        res.figure('%d workers: GET ?view=groups, p50' % N,
                   B.fmt(gp50, 'ms'), 'default view %s' % B.fmt(fp50, 'ms'),
                   '', None)
        rows = [['?view=groups (the dashboard)', B.fmt(gsize / 1024.0, 'KB'),
                 B.fmt(gp50, 'ms'), B.fmt(max(gtimes), 'ms')],
                ['default view (version 1)', B.fmt(fsize / 1024.0, 'KB'),
                 B.fmt(fp50, 'ms'), B.fmt(max(ftimes), 'ms')]]
        data = {'n': N, 'groups': counts, 'groups_bytes': gsize,
                'groups_ms': gtimes, 'default_bytes': fsize,
                'default_ms': ftimes, 'page': pg}
        if pg is not None:
            ms = pg['ms']
            fetched = [x for x in pg['fetched'] if x is not None]
            res.figure('%d workers: the execution page draws its groups, '
                       'p50' % N, B.fmt(B.pct(ms, 50), 'ms'), '', '', None)
            rows.append(['page in chromium: navigation to groups drawn', '',
                         B.fmt(B.pct(ms, 50), 'ms'), B.fmt(max(ms), 'ms')])
            rows.append(['… of which: scripts loaded (DOMContentLoaded)', '',
                         B.fmt(B.pct(pg['boot'], 50), 'ms'),
                         B.fmt(max(pg['boot']), 'ms')])
            if fetched:
                rows.append(['… of which: ?view=groups received', '',
                             B.fmt(B.pct(fetched, 50), 'ms'),
                             B.fmt(max(fetched), 'ms')])
        else:
            res.note('page render time not measured: ' + why)
        res.table('Grouped output: one step on %d simulated workers (%s), '
                  '%d GETs each' % (N, ' / '.join(map(str, counts)), GETS),
                  ['what', 'bytes', 'p50', 'max'], rows, data)
    finally:
        stack.stop()


if __name__ == '__main__':
    sys.exit(B.main('groups', 'grouped output: a step on 1,000 workers',
                    run))
