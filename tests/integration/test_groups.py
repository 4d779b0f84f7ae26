#!/usr/bin/env python3
"""Grouped output (SPEC section 17): 50 simulated workers (bench/loadws.c
-m groups) of three kinds of output grouped by (status, exit code, SHA-256
of stdout and stderr), largest first, with the hashes hashlib computes and
one sample each; the latest attempt of a worker counts; rows without
stored hashes (version 1) group by the hash SQL computes; a step where
every worker differs lists 100 groups and counts the rest; ?view=groups
carries no dispatches and no logs, the default view keeps them."""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulse_test import (call, check, check_status, done, require,  # noqa
                        create_workflow, start_execution, wait_for, sql,
                        at_end)
import fleet  # noqa: E402  (simulated workers: bench/loadws.c)
import benchlib  # noqa: E402

TMP = tempfile.mkdtemp(prefix='pulse-groups-')
at_end(lambda: shutil.rmtree(TMP, ignore_errors=True))
N = 50		# three kinds of output
M = 120		# every one different: past the 100 groups listed


def sha(b):
    return hashlib.sha256(b).hexdigest()


KEYS = []	# the fleets' key files: their workers go whatever happens


def online(prefix):
    r = call('GET', '/api/workers')
    return sum(1 for w in r[2] if isinstance(w, dict) and
               str(w.get('name', '')).startswith(prefix + '-') and
               w.get('status') == 'online')


def start_fleet(loadws, prefix, n, group, mode):
    keys = fleet.enroll(TMP, prefix, n, group)
    p = subprocess.Popen([loadws, 'worker', '-K', keys, '-n', str(n), '-p',
                          prefix, '-m', mode, '-H', '127.0.0.1', '-P',
                          str(fleet.port())], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    KEYS.append(keys)
    ok = wait_for(lambda: online(prefix) >= n, 120, interval=0.5)
    require('%d simulated workers of %s online' % (n, prefix), ok,
            online(prefix))
    return p


def run_step(group, command, steps=1):
    wf = create_workflow('groups', [{'name': 'fan %d' % i, 'type': 'execute',
                                     'targets': [group],
                                     'command': command}
                                    for i in range(steps)])
    require('workflow created', wf is not None)
    e = start_execution(wf['id'])
    require('execution started', e is not None)
    eid = e['id']
    end = wait_for(lambda: call('GET', '/api/executions/' + eid)[2]
                   .get('status') in ('completed', 'failed'), 120)
    require('execution %s ended' % eid, end)
    return eid


def kind(i):
    """What loadws -m groups prints for the worker of number i."""
    if i % 25 == 0:
        return ('failed', 2, b'partial\n', b'disk almost full\n')
    if i % 10 == 0:
        return ('failed', 1, b'error: service down\n', b'')
    return ('succeeded', 0, b'ok\n', b'')


def expected(prefix, n):
    """The groups as the contract orders them: largest first, ties by
    status then the first worker's name."""
    by = {}
    for i in range(1, n + 1):
        by.setdefault(kind(i), []).append('%s-%05d' % (prefix, i))
    out = []
    for (status, code, so, se), names in by.items():
        out.append({'count': len(names), 'workers': sorted(names),
                    'status': status, 'exit_code': code,
                    'stdout_sha256': sha(so), 'stderr_sha256': sha(se),
                    'stdout': so.decode(), 'stderr': se.decode()})
    out.sort(key=lambda g: (-g['count'], g['status'], g['workers'][0]))
    return out


def shape(groups):
    return [(g['count'], g['workers'], g['status'], g['exit_code'],
             g['stdout_sha256'], g['stderr_sha256']) for g in groups]


def exp_shape(exp):
    return [(g['count'], g['workers'], g['status'], g['exit_code'],
             g['stdout_sha256'], g['stderr_sha256']) for g in exp]


def main():
    loadws = fleet.build_loadws(TMP)
    tag = uuid.uuid4().hex[:6]
    pa, ga = 'grp%s' % tag, 'groups-%s' % tag
    pb, gb = 'uniq%s' % tag, 'unique-%s' % tag
    fleets = [start_fleet(loadws, pa, N, ga, 'groups')]
    try:
        eid = run_step(ga, 'echo grouped')
        r = call('GET', '/api/executions/' + eid)
        check_status('GET the execution (default view)', r, 200)
        full = r[2]
        st = full['steps'][0]
        exp = expected(pa, N)
        check('three groups: 44 "ok", 4 exit 1, 2 exit 2 with stderr',
              [g['count'] for g in st['groups']] == [44, 4, 2],
              [g['count'] for g in st['groups']])
        check('groups largest first with their workers, statuses, exit '
              'codes and hashlib\'s SHA-256 of stdout and stderr',
              shape(st['groups']) == exp_shape(exp), shape(st['groups']))
        check('nothing omitted', st.get('groups_omitted', 'x') is None,
              st.get('groups_omitted'))
        check('default view keeps every dispatch and the logs',
              len(st.get('dispatches') or []) == N and 'logs' in full,
              len(st.get('dispatches') or []))
        byid = {d['id']: d for d in st['dispatches']}
        for g, x in zip(st['groups'], exp):
            s = g.get('sample') or {}
            check('sample of "%s": its first worker\'s output' %
                  x['stdout'].strip(),
                  s.get('worker_name') == x['workers'][0] and
                  s.get('stdout') == x['stdout'] and
                  s.get('stderr') == x['stderr'] and
                  s.get('stdout_more') is False and
                  s.get('stderr_more') is False and
                  byid.get(g['sample_id'], {}).get('worker_name') ==
                  x['workers'][0], s)
        stored = sql("SELECT worker_name, stdout_sha256, stderr_sha256 "
                     "FROM dispatches WHERE execution_id = '%s' ORDER BY "
                     "worker_name" % eid)
        check('each dispatch\'s hashes stored with its result',
              len(stored) == N and all(
                  row[1] == sha(kind(int(row[0][-5:]))[2]) and
                  row[2] == sha(kind(int(row[0][-5:]))[3])
                  for row in stored), stored[:3])

        r = call('GET', '/api/executions/%s?view=groups' % eid)
        check_status('GET ?view=groups', r, 200)
        gv = r[2]
        gst = gv['steps'][0]
        check('?view=groups: no dispatches, dispatch_count 50, no logs',
              'dispatches' not in gst and gst.get('dispatch_count') == N
              and 'logs' not in gv, sorted(gst.keys()))
        check('?view=groups: the same groups and samples',
              gst['groups'] == st['groups'])
        check('?view=groups keeps the execution\'s fields',
              all(k in gv for k in ('id', 'status', 'steps', 'started_by',
                                    'workflow_id', 'children')))
        # One worker's full output on demand, by a sample's id.
        g1 = st['groups'][1]
        r = call('GET', '/api/executions/%s/output?command_id=%s&stream='
                 'stdout' % (eid, g1['sample_id']))
        check('a sample\'s full output from the paged endpoint',
              r[0] == 200 and r[2].get('data') == 'error: service down\n',
              r[2])

        # Version-1 rows (no hashes stored): the same groups, hashed in
        # SQL.
        sql("UPDATE dispatches SET stdout_sha256 = NULL, stderr_sha256 = "
            "NULL WHERE execution_id = '%s' AND worker_name IN "
            "('%s-00001', '%s-00010', '%s-00025')" % (eid, pa, pa, pa))
        r = call('GET', '/api/executions/%s?view=groups' % eid)
        check('rows without stored hashes group as before (SQL SHA2)',
              shape(r[2]['steps'][0]['groups']) == exp_shape(exp),
              shape(r[2]['steps'][0]['groups']))
        sql("UPDATE dispatches SET stdout_sha256 = NULL, stderr_sha256 = "
            "NULL WHERE execution_id = '%s'" % eid)
        r = call('GET', '/api/executions/%s?view=groups' % eid)
        check('a version-1 execution (no hashes at all) groups the same',
              shape(r[2]['steps'][0]['groups']) == exp_shape(exp),
              shape(r[2]['steps'][0]['groups']))

        # A second attempt of worker 10 (exit 1) that printed "ok": only
        # the latest attempt counts.
        w10 = '%s-00010' % pa
        sql("INSERT INTO dispatches (id, execution_id, step_index, "
            "worker_id, worker_name, attempt, command, timeout_ms, status, "
            "exit_code, stdout, stderr, finished_at) SELECT '%s', "
            "execution_id, step_index, worker_id, worker_name, 2, command, "
            "timeout_ms, 'succeeded', 0, 'ok\\n', '', NOW(3) FROM "
            "dispatches WHERE execution_id = '%s' AND worker_name = '%s'"
            % (uuid.uuid4(), eid, w10))
        r = call('GET', '/api/executions/%s?view=groups' % eid)
        gs = r[2]['steps'][0]['groups']
        check('the latest attempt counts: 45 "ok" (with %s), 3 exit 1' % w10,
              [g['count'] for g in gs] == [45, 3, 2] and
              w10 in gs[0]['workers'] and w10 not in gs[1]['workers'] and
              r[2]['steps'][0]['dispatch_count'] == N + 1,
              [(g['count'], g['exit_code']) for g in gs])

        # Past 100 groups: listed 100, samples for 20, the rest counted.
        fleets.append(start_fleet(loadws, pb, M, gb, 'unique'))
        # Two steps: 40 samples, read 20 at a time.
        eid2 = run_step(gb, 'hostname', steps=2)
        r = call('GET', '/api/executions/%s?view=groups' % eid2)
        check_status('GET ?view=groups of 120 different outputs', r, 200)
        st2 = r[2]['steps'][0]
        gs = st2['groups']
        names = ['%s-%05d' % (pb, i) for i in range(1, M + 1)]
        check('100 groups listed, each of one worker, by name',
              len(gs) == 100 and all(g['count'] == 1 for g in gs) and
              [g['workers'][0] for g in gs] == names[:100],
              len(gs))
        check('groups_omitted counts the other 20 groups and workers',
              st2.get('groups_omitted') == {'groups': 20, 'workers': 20},
              st2.get('groups_omitted'))
        check('samples for the first 20 groups, null after',
              all(g['sample'] is not None for g in gs[:20]) and
              all(g['sample'] is None for g in gs[20:]) and
              gs[0]['sample']['stdout'] == 'worker 1\n' and
              gs[19]['sample']['stdout'] == 'worker 20\n',
              [g['sample'] for g in gs[18:22]])
        st3 = r[2]['steps'][1]
        check('the second step too: 100 groups, 20 samples, the rest '
              'counted', len(st3['groups']) == 100 and
              [g['sample']['stdout'] for g in st3['groups'][:20]] ==
              ['worker %d\n' % i for i in range(1, 21)] and
              all(g['sample'] is None for g in st3['groups'][20:]) and
              st3.get('groups_omitted') == {'groups': 20, 'workers': 20},
              [g['sample'] for g in st3['groups'][18:22]])
        check('each group\'s hash is its own output\'s',
              all(g['stdout_sha256'] == sha(('worker %d\n' % (i + 1))
                                            .encode())
                  for i, g in enumerate(gs)))

        # Past PULSE_GROUP_ROWS_MAX (100,000) dispatches (rows by SQL):
        # step 0's 60,000 are grouped; step 1 is read in part and step 2
        # not at all: both say so instead of showing partial or no groups.
        wf = create_workflow('groups-many', [
            {'name': 'many %d' % i, 'type': 'execute', 'targets': [gb],
             'command': 'true'} for i in range(3)])
        big = str(uuid.uuid4())
        sql("INSERT INTO executions (id, workflow_id, status, started_by, "
            "started_at, completed_at) VALUES ('%s', '%s', 'completed', "
            "'employee', NOW(), NOW())" % (big, wf['id']))
        sql("INSERT INTO execution_steps (execution_id, step_index, name, "
            "type, status) SELECT '%s', seq, CONCAT('many ', seq), "
            "'execute', 'completed' FROM seq_0_to_2" % big)
        for step, n in ((0, 60000), (1, 60000), (2, 10)):
            sql("INSERT INTO dispatches (id, execution_id, step_index, "
                "worker_id, worker_name, attempt, command, timeout_ms, "
                "status, exit_code, stdout, stderr, stdout_sha256, "
                "stderr_sha256) SELECT UUID(), '%s', %d, UUID(), "
                "CONCAT('m-', LPAD(seq, 6, '0')), 1, 'true', 1000, "
                "'succeeded', 0, 'ok\n', '', SHA2('ok\n', 256), "
                "SHA2('', 256) FROM seq_1_to_%d" % (big, step, n))
        r = call('GET', '/api/executions/%s?view=groups' % big)
        check_status('GET ?view=groups of 120,010 dispatches', r, 200)
        bs = r[2]['steps']
        check('step 0 grouped in full: one group of 60,000, not truncated',
              [g['count'] for g in bs[0]['groups']] == [60000] and
              bs[0].get('groups_truncated') is False and
              bs[0].get('groups_truncated_reason') is None,
              [g['count'] for g in bs[0]['groups']])
        check('steps 1 and 2: no groups, groups_truncated with the reason',
              all(s['groups'] == [] and s.get('groups_truncated') is True
                  and 'more than 100000 dispatches' in
                  (s.get('groups_truncated_reason') or '')
                  for s in bs[1:]),
              [(len(s['groups']), s.get('groups_truncated'),
                s.get('groups_truncated_reason')) for s in bs[1:]])
        check('a step read whole says groups_truncated false',
              st2.get('groups_truncated') is False, st2.get(
                  'groups_truncated'))
        call('DELETE', '/api/workflows/' + wf['id'])

        r = call('GET', '/api/executions/%s?view=everything' % eid)
        check('?view= something else: 400 naming view',
              r[0] == 400 and isinstance(r[2], dict) and
              'view' in str(r[2]), r[2])
        r = call('GET', '/api/executions/%s?view=groups' % uuid.uuid4())
        check_status('?view=groups of no execution: 404', r, 404)
    finally:
        for p in fleets:
            benchlib.end_load(p)
        # A hundred simulated workers left behind would slow every later
        # test that lists workers: they go even when this file fails.
        for keys in KEYS:
            for line in open(keys):
                call('DELETE', '/api/workers/' + line.split()[0])


if __name__ == '__main__':
    main()
    done()
