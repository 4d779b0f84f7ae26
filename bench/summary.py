#!/usr/bin/env python3
"""summary.py RESULTS NAME...: bench/results/summary.md from the JSON
files of the benchmarks that ran (machine, date, one line per figure with
its peer or limit and target, then each benchmark's tables and notes)."""

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
           '| figure | PULSE | peer / limit | target | met? |',
           '|---|---|---|---|---|']
    for d in docs:
        if not d.get('ok'):
            out.append('| %s | did not run: %s | | | no |' % (
                d.get('title', d['name']), d.get('error', '?')))
        for f in d.get('figures', []):
            met = {True: 'yes', False: '**no**', None: ''}[f.get('met')]
            out.append('| %s | %s | %s | %s | %s |' % (
                f['figure'], f['value'], f.get('peer', ''),
                f.get('target', ''), met))
    for d in docs:
        out += ['', '## %s (%s, %s s)' % (d.get('title', d['name']),
                                          d['name'], d.get('seconds', '?'))]
        for t in d.get('tables', []):
            out += ['', t['title'], '', t['markdown']]
        for n in d.get('notes', []):
            out += ['', 'Note: ' + n]
    print('\n'.join(out))


if __name__ == '__main__':
    main()
