#!/usr/bin/env python3
"""Prometheus metrics through nginx: /metrics (pulse-pushd) and
/metrics/api (pulse-api) parse strictly as the text exposition format
0.0.4, are refused to addresses the site does not allow, and their
counters move when an execution runs on the dev workers."""

import http.client
import math
import re
import socket
import time
import urllib.parse

from live import execute, online, run, wait_execution
from pulse_test import (URL, check, diag, done, require, skip, sql,
                        wait_for)

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RE = re.compile(r'^(%s)(?:\{(%s(?:,%s)*)?,?\})? (\S+)(?: (-?\d+))?$'
                       % (NAME, LABEL, LABEL))
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')
HELP_RE = re.compile(r'^# HELP (%s) (.*)$' % NAME)
TYPE_RE = re.compile(r'^# TYPE (%s) (counter|gauge|histogram|summary|'
                     r'untyped)$' % NAME)
SUFFIXES = {'histogram': ('_bucket', '_sum', '_count'),
            'summary': ('', '_sum', '_count')}


def fetch(path, source=None):
    """GET path through nginx, optionally from another local address."""
    u = urllib.parse.urlsplit(URL)
    conn = http.client.HTTPConnection(
        u.hostname, u.port or 80, timeout=30,
        source_address=(source, 0) if source else None)
    try:
        conn.request('GET', u.path.rstrip('/') + path)
        r = conn.getresponse()
        return r.status, r.headers, r.read().decode('utf-8', 'replace')
    finally:
        conn.close()


def value(s):
    if s in ('+Inf', 'Inf'):
        return math.inf
    if s == '-Inf':
        return -math.inf
    if s == 'NaN':
        return math.nan
    if not re.match(r'^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$', s):
        raise ValueError(s)
    return float(s)


def parse(text):
    """Strict parse: returns ({(name, labels): value}, {family: type}) or
    raises ValueError naming the first bad line."""
    samples, types, helps = {}, {}, set()
    if not text.endswith('\n'):
        raise ValueError('no final newline')
    for n, line in enumerate(text.split('\n')[:-1], 1):
        if line.startswith('#'):
            m = TYPE_RE.match(line)
            if m:
                if m.group(1) in types:
                    raise ValueError('line %d: second TYPE' % n)
                if any(k[0].startswith(m.group(1)) for k in samples):
                    raise ValueError('line %d: TYPE after samples' % n)
                types[m.group(1)] = m.group(2)
                continue
            m = HELP_RE.match(line)
            if m:
                if m.group(1) in helps:
                    raise ValueError('line %d: second HELP' % n)
                helps.add(m.group(1))
                continue
            if line.startswith('# HELP') or line.startswith('# TYPE'):
                raise ValueError('line %d: bad HELP/TYPE: %r' % (n, line))
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise ValueError('line %d: not a sample: %r' % (n, line))
        labels = tuple(LABEL_RE.findall(m.group(2) or ''))
        names = [k for k, _ in labels]
        if len(names) != len(set(names)):
            raise ValueError('line %d: repeated label' % n)
        key = (m.group(1), labels)
        if key in samples:
            raise ValueError('line %d: repeated series' % n)
        samples[key] = value(m.group(3))
    for (name, _), _v in samples.items():
        fam = family(name, types)
        if fam is None:
            raise ValueError('%s has no TYPE' % name)
    return samples, types


def family(name, types):
    if name in types and types[name] not in SUFFIXES:
        return name
    for fam, t in types.items():
        for suf in SUFFIXES.get(t, ()):
            if name == fam + suf:
                return fam
    return None


def check_histograms(samples, types, what):
    ok = True
    for fam, t in types.items():
        if t != 'histogram':
            continue
        series = {}
        for (name, labels), v in samples.items():
            if not name.startswith(fam):
                continue
            rest = tuple(x for x in labels if x[0] != 'le')
            s = series.setdefault(rest, {'buckets': [], 'sum': None,
                                         'count': None})
            if name == fam + '_bucket':
                le = dict(labels).get('le')
                s['buckets'].append((value(le), v))
            elif name == fam + '_sum':
                s['sum'] = v
            elif name == fam + '_count':
                s['count'] = v
        if not series:
            ok = False
            diag('%s: histogram %s has no series' % (what, fam))
        for rest, s in series.items():
            b = sorted(s['buckets'])
            good = (b and b[-1][0] == math.inf and s['sum'] is not None and
                    s['count'] is not None and b[-1][1] == s['count'] and
                    all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)))
            if not good:
                ok = False
                diag('%s: histogram %s%s is malformed: %s' %
                     (what, fam, rest, s))
    return ok


def scrape(path):
    st, hdrs, text = fetch(path)
    if st != 200:
        diag('%s: %s %s' % (path, st, text[:200]))
        return None, None, st, hdrs
    try:
        s, t = parse(text)
    except ValueError as e:
        diag('%s does not parse: %s' % (path, e))
        return None, None, st, hdrs
    return s, t, st, hdrs


def get(samples, name, **labels):
    want = tuple(sorted(labels.items()))
    for (n, ls), v in samples.items():
        if n == name and tuple(sorted(ls)) == want:
            return v
    return None


def total(samples, name, **match):
    """Sum of every series of name whose labels include match."""
    t = 0
    for (n, ls), v in samples.items():
        d = dict(ls)
        if n == name and all(d.get(k) == x for k, x in match.items()):
            t += v
    return t


require('local-1 online', online('local-1') is not None)
require('local-2 online', online('local-2') is not None)

# --- pulse-pushd ------------------------------------------------------------

s1, t1, st, hdrs = scrape('/metrics')
require('GET /metrics answers 200 and parses as the text format',
        s1 is not None, st)
check('Content-Type is text/plain; version=0.0.4',
      (hdrs.get('Content-Type') or '').startswith(
          'text/plain; version=0.0.4'), hdrs.get('Content-Type'))
check('every histogram has ordered buckets ending at +Inf, _sum and _count',
      check_histograms(s1, t1, '/metrics'))
for fam, typ in (('pulse_workers', 'gauge'), ('pulse_executions', 'gauge'),
                 ('pulse_dispatch_latency_seconds', 'histogram'),
                 ('pulse_poll_duration_seconds', 'histogram'),
                 ('pulse_browsers_connected', 'gauge'),
                 ('pulse_workers_connected', 'gauge'),
                 ('pulse_queue_depth', 'gauge'),
                 ('pulse_db_errors_total', 'counter'),
                 ('process_resident_memory_bytes', 'gauge')):
    check('%s is a %s' % (fam, typ), t1.get(fam) == typ, t1.get(fam))
check('the two dev workers are connected',
      get(s1, 'pulse_workers_connected') >= 2, get(s1, 'pulse_workers_connected'))
for q in ('dispatch', 'db_jobs', 'worker_send', 'browser_send'):
    check('queue depth %s is there' % q,
          get(s1, 'pulse_queue_depth', queue=q) is not None)


def seen_online():
    s, _t, _st, _h = scrape('/metrics')
    return s if s and (get(s, 'pulse_workers', status='online') or 0) >= 2 \
        else None


check('workers by status: at least 2 online (database)',
      wait_for(seen_online, 120, 0.5) is not None)

# --- pulse-api ----------------------------------------------------------------

a1, at1, st, _h = scrape('/metrics/api')
check('GET /metrics/api answers 200 and parses as the text format',
      a1 is not None, st)
if a1 is not None:
    check('pulse-api histograms are well formed',
          check_histograms(a1, at1, '/metrics/api'))
    check('pulse_api_requests_total is a counter',
          at1.get('pulse_api_requests_total') == 'counter')
    check('pulse_api_request_duration_seconds is a histogram',
          at1.get('pulse_api_request_duration_seconds') == 'histogram')

# Not from an address the site does not list (dev: 127.0.0.1 only).
# Reaching nginx from 127.0.0.2 needs that address on this machine's
# loopback; without it the two checks are skipped, and say so.
try:
    with socket.socket() as probe:
        probe.bind(('127.0.0.2', 0))
    other = None
except OSError as e:
    other = 'cannot bind 127.0.0.2 on this machine (%s)' % e
for path in ('/metrics', '/metrics/api'):
    descr = '%s from 127.0.0.2 is refused (403)' % path
    if other:
        skip(descr, other)
        continue
    try:
        st = fetch(path, source='127.0.0.2')[0]
    except OSError as e:
        st = 'no answer: %s' % e
    check(descr, st == 403, st)

# --- work happens -------------------------------------------------------------

e = run([execute('both', 'echo metrics', ['local-1', 'local-2'])],
        prefix='metrics')
require('an execution starts', e is not None)
e = wait_execution(e['id'])
check('it completes on both workers', e and e['status'] == 'completed', e)

lat = 'pulse_dispatch_latency_seconds_count'


def moved():
    s, _t, _st, _h = scrape('/metrics')
    if s is None:
        return None
    if total(s, lat, stage='queued_to_sent') >= \
            total(s1, lat, stage='queued_to_sent') + 2 and \
            total(s, lat, stage='sent_to_result') >= \
            total(s1, lat, stage='sent_to_result') + 2:
        return s
    return None




def movement():
    s, _t, _st, _h = scrape('/metrics')
    if s is None:
        return 'no scrape'
    return {k: (f(s1), f(s)) for k, f in (
        ('queued_to_sent', lambda x: total(x, lat, stage='queued_to_sent')),
        ('sent_to_result', lambda x: total(x, lat, stage='sent_to_result')),
        )}


# Counts are read from the database every 5 s, 2 s behind.
s2 = wait_for(moved, 30, 0.5)
check('dispatch latency counts moved by 2 for both stages', s2 is not None,
      None if s2 is not None else movement())


# Other tests delete their workflows (and so executions) as they end: the
# gauge is checked against the table, not against an earlier scrape.
def gauge_matches():
    want = int(sql("SELECT COUNT(*) FROM executions "
                   "WHERE status = 'completed'")[0][0])
    s, _t, _st, _h = scrape('/metrics')
    return s is not None and \
        get(s, 'pulse_executions', status='completed') == want


check('pulse_executions{status="completed"} follows the database',
      wait_for(gauge_matches, 30, 0.5))
if s2 is not None:
    check('poll count moved',
          get(s2, 'pulse_poll_duration_seconds_count') >
          get(s1, 'pulse_poll_duration_seconds_count'))
    check('the latency sums are positive and below a minute',
          0 < total(s2, 'pulse_dispatch_latency_seconds_sum') < 60,
          total(s2, 'pulse_dispatch_latency_seconds_sum'))
    check('the scrape counter counts scrapes',
          get(s2, 'pulse_metrics_scrapes_total') >
          get(s1, 'pulse_metrics_scrapes_total'))

if a1 is not None:
    time.sleep(0.2)
    a2, _t, _st, _h = scrape('/metrics/api')
    check('pulse-api metrics still parse', a2 is not None)
    if a2 is not None:
        post = total(a2, 'pulse_api_requests_total', route='/api/executions',
                     method='POST', status='201') - \
            total(a1, 'pulse_api_requests_total', route='/api/executions',
                  method='POST', status='201')
        check('POST /api/executions 201 counted once more', post >= 1, post)
        polls = total(a2, 'pulse_api_requests_total',
                      route='/api/executions/:id', method='GET') - \
            total(a1, 'pulse_api_requests_total',
                  route='/api/executions/:id', method='GET')
        check('GET /api/executions/:id counted', polls >= 1, polls)
        dur = total(a2, 'pulse_api_request_duration_seconds_count') - \
            total(a1, 'pulse_api_request_duration_seconds_count')
        check('request latency histogram counted them', dur >= post + polls,
              dur)
done()
