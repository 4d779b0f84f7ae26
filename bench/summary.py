#!/usr/bin/env python3
"""summary.py RESULTS NAME...: bench/results/summary.md from the JSON
files of the benchmarks that ran (machine, date, one line per figure with
its peer or limit and target, then each benchmark's tables and notes) on
stdout, and RESULTS/summary.json: the keyed figures (benchlib's
Result.key) of those benchmarks, a list of {"key", "figure", "value",
"unit", "target", "met"} objects (plus "via" where a figure has one),
for tools. Only the keys measured in this run: a benchmark not run, or
one that failed before its figure, has none."""

import json
import os
import sys


def main():
    results, names = sys.argv[1], sys.argv[2:]
    docs = []
    for n in names:
        try:
            with open(os.path.join(results, n + '.json')) as f:
                docs.append(json.load(f))
        except (OSError, ValueError):
            docs.append({'name': n, 'title': n, 'ok': False,
                         'error': 'no results', 'figures': [], 'tables': []})
    m = next((d['machine'] for d in docs if 'machine' in d), {})
    quick = any(d.get('quick') for d in docs)
    out = ['# PULSE benchmarks%s' % (' (--quick: a smoke run, not the '
                                     'figures)' if quick else ''), '',
           'Machine: %s cores (%s), %s MB RAM, Linux %s; run %s; load '
           'average at start %.1f.' % (
               m.get('nproc', '?'), m.get('cpu', '?'),
               m.get('ram_mb', '?'), m.get('kernel', '?'), m.get('date', '?'),
               m.get('load_at_start', 0.0)), '',
           '| figure | key | PULSE | peer / limit | target | met? |',
           '|---|---|---|---|---|---|']
    for d in docs:
        if not d.get('ok'):
            out.append('| %s | | did not run: %s | | | not met |' % (
                d.get('title', d['name']), d.get('error', '?')))
        for f in d.get('figures', []):
            met = {True: 'met', False: '**not met**',
                   None: ''}[f.get('met')]
            out.append('| %s | %s | %s | %s | %s | %s |' % (
                f['figure'], '`%s`' % f['key'] if f.get('key') else '',
                f['value'], f.get('peer', ''), f.get('target', ''), met))
    for d in docs:
        dm = d.get('machine', {})
        out += ['', '## %s (%s, %s s; started %s, load average %.1f)' % (
            d.get('title', d['name']), d['name'], d.get('seconds', '?'),
            dm.get('date', '?'), dm.get('load_at_start', 0.0))]
        for t in d.get('tables', []):
            out += ['', t['title'], '', t['markdown']]
        for n in d.get('notes', []):
            out += ['', 'Note: ' + n]
    print('\n'.join(out))
    write_json(results, docs)


def write_json(results, docs):
    keyed = []
    for d in docs:
        for f in d.get('figures', []):
            if not f.get('key'):
                continue
            k = {'key': f['key'], 'figure': f['figure'], 'value': f.get('num'),
                 'unit': f.get('unit', ''), 'target': f.get('target') or None,
                 'met': f.get('met')}
            if f.get('via'):
                k['via'] = f['via']
            keyed.append(k)
    path = os.path.join(results, 'summary.json')
    with open(path + '.tmp', 'w') as f:
        json.dump(keyed, f, indent=1)
        f.write('\n')
    os.replace(path + '.tmp', path)


if __name__ == '__main__':
    main()
