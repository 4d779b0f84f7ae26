#!/usr/bin/env python3
"""The three example workflows of SPEC section 5 run as written on the two
dev workers (local-1 in group demo, local-2 in demo,db), their prompts
answered through the API with both options. apt is a stand-in on the test
workers (tests/fixtures/bin/apt) so the host's packages are left alone."""

import datetime
import json
import os

from live import by_worker, online, wait_execution, wait_step
from pulse_test import call, check, check_status, done, require

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', 'fixtures', 'workflows')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def seconds(iso):
    return datetime.datetime.strptime(
        iso, '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()


require('local-1 online', online('local-1') is not None)
require('local-2 online', online('local-2') is not None)
os.makedirs('/opt/pulse-worker', exist_ok=True)

ids = {}
for name in ('01-system-update.json', '02-backup.json', '03-disk-space.json'):
    body = fixture(name)
    r = call('POST', '/api/workflows', body=body)
    check_status('create %s' % body['name'], r, 201)
    ids[name] = r[2]['id']


def start(name, user='employee'):
    r = call('POST', '/api/executions', user=user,
             body={'workflow_id': ids[name]})
    check_status('start %s as %s' % (name, user), r, 201)
    return r[2]['id']


# Check disk space: one step on every online worker.
eid = start('03-disk-space.json')
e = wait_execution(eid)
check('disk space completed', e['status'] == 'completed', e)
w = by_worker(e, 0)
check('ran on both workers', {'local-1', 'local-2'} <= set(w), list(w))
for n in ('local-1', 'local-2'):
    d = w.get(n, {})
    check('%s: exit code 0' % n, d.get('exit_code') == 0, d)
    check('%s: df output' % n, 'Filesystem' in d.get('stdout', ''), d)
    check('%s: duration recorded' % n,
          isinstance(d.get('duration_ms'), int), d)

# System update, answered Yes: the upgrade runs.
eid = start('01-system-update.json')
e = wait_execution(eid, ('waiting', 'failed', 'completed'))
check('update waits for approval', e['status'] == 'waiting', e)
check('the prompt is the SPEC text', e['prompt'] and e['prompt']['message'] ==
      'Packages updated. Proceed with upgrade?', e.get('prompt'))
check('apt update ran before the prompt',
      'apt (test stand-in): update' in
      by_worker(e, 0).get('local-1', {}).get('stdout', ''), e['steps'][0])
r = call('POST', '/api/executions/%s/respond' % eid, user='employee',
         body={'response': 'Yes'})
check_status('answer Yes', r, 200)
e = wait_step(eid, 3, ('running', 'succeeded'))
check('upgrade ran after Yes', e['steps'][2]['status'] == 'succeeded' and
      'upgrade -y' in by_worker(e, 2).get('local-2', {}).get('stdout', ''),
      e['steps'][2])
check('wait step is running for its 10 s', e['steps'][3]['status'] in
      ('running', 'succeeded'), e['steps'][3])
e = wait_execution(eid, timeout=40)
check('update completed', e['status'] == 'completed', e)
check('the wait step lasted its 10 s',
      seconds(e['steps'][3]['finished_at']) -
      seconds(e['steps'][3]['started_at']) >= 9.9, e['steps'][3])

# System update, answered No: the upgrade is skipped by its condition.
eid = start('01-system-update.json')
wait_execution(eid, ('waiting',))
r = call('POST', '/api/executions/%s/respond' % eid, body={'response': 'No'})
check_status('answer No', r, 200)
e = wait_step(eid, 2, ('skipped', 'succeeded', 'failed'))
check('upgrade skipped after No', e['steps'][2]['status'] == 'skipped', e)
check('skip reason names the condition',
      "promptResponse === 'Yes'" in (e['steps'][2]['reason'] or ''),
      e['steps'][2])
check('no dispatch for the skipped step',
      not e['steps'][2].get('dispatches'), e['steps'][2])

# Backup: both answers.
for answer, cleanup in (('Yes', 'succeeded'), ('No', 'skipped')):
    eid = start('02-backup.json')
    e = wait_execution(eid, ('waiting', 'failed', 'completed'), timeout=40)
    check('backup reaches the cleanup prompt (%s)' % answer,
          e['status'] == 'waiting' and e['current_step'] == 3, e)
    # Both dev workers share this host's /tmp, so their archives can
    # race; the verdict printed is what matters here, not which one.
    check('verify printed its verdict on every worker (%s)' % answer,
          all(d.get('stdout', '').strip() in ('OK', 'FAILED')
              for d in by_worker(e, 2).values()) and
          len(by_worker(e, 2)) >= 2, e['steps'][2])
    r = call('POST', '/api/executions/%s/respond' % eid,
             body={'response': answer})
    check_status('answer %s' % answer, r, 200)
    e = wait_execution(eid)
    check('backup completed (%s)' % answer, e['status'] == 'completed', e)
    check('cleanup %s after %s' % (cleanup, answer),
          e['steps'][4]['status'] == cleanup, e['steps'][4])

done()
