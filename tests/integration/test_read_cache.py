#!/usr/bin/env python3
"""GET /api/workflows from pulse-api's kept list (fcgi-api/wfcache.c) is
never stale: after any committed write to workflows (create, replace,
delete) every following read shows it, whichever child answers; each
write gives the workflows a new tag; can_start still follows the caller;
each row is what GET /api/workflows/:id says of the same workflow."""

from pulse_test import (call, check, check_status, create_workflow, done,
                        have_ctl, prompt_step, require, sql, unique)

require('PULSE_CTL is set', have_ctl())

# Enough reads that every child of the pool answers some (the children
# take connections in turns the kernel chooses).
READS = 24


def listed(user='admin'):
    r = call('GET', '/api/workflows', user=user)
    if r[0] != 200 or not isinstance(r[2], list):
        return None
    return {w['id']: w for w in r[2]}


def every_read(descr, pred, user='admin'):
    seen = [listed(user) for _ in range(READS)]
    bad = [i for i, s in enumerate(seen) if s is None or not pred(s)]
    check('%s (%d reads in a row)' % (descr, READS), not bad,
          'reads %s failed' % bad[:5])


plain = create_workflow('cache-plain', [prompt_step('p')],
                        description='before')
leads = call('POST', '/api/workflows', body={
    'name': unique('cache-leads'),
    'definition': {'steps': [prompt_step('p')], 'allowed_groups': ['leads']}})
check_status('a workflow only leads may start', leads, 201)
require('workflows created', plain is not None and leads[0] == 201)
lid = leads[2]['id']
pid = plain['id']
try:
    every_read('both listed (the list is now kept)',
               lambda s: pid in s and lid in s)

    # Each row is the workflow as GET /api/workflows/:id shows it.
    for wid in (pid, lid):
        one = call('GET', '/api/workflows/' + wid)
        lst = listed()
        check('list row of %s equals GET /api/workflows/:id' % wid,
              one[0] == 200 and lst is not None and lst.get(wid) == one[2],
              (one[2], lst.get(wid) if lst else None))

    # can_start is the caller's, from the one kept list.
    for user, want in (('admin', True), ('employee', False),
                       ('alice', True), ('employee', False),
                       ('admin', True)):
        lst = listed(user)
        check('can_start of the leads-only workflow for %s is %s'
              % (user, want), lst is not None and lid in lst and
              lst[lid]['can_start'] is want and
              lst[pid]['can_start'] is True,
              lst and (lst.get(lid), lst.get(pid)))

    # Through the API: replace, then the tag, the version and the name
    # follow.
    tag0 = sql("SELECT tag FROM read_versions WHERE name = 'workflows'")
    newname = unique('cache-renamed')
    r = call('PUT', '/api/workflows/' + pid, body={
        'name': newname, 'description': 'changed',
        'definition': {'steps': [prompt_step('q')]}})
    check_status('PUT the workflow', r, 200)
    tag1 = sql("SELECT tag FROM read_versions WHERE name = 'workflows'")
    check('a PUT gives the workflows a new tag',
          len(tag0) == 1 and len(tag1) == 1 and tag0 != tag1, (tag0, tag1))
    every_read('the PUT is in every read',
               lambda s: s.get(pid, {}).get('name') == newname and
               s[pid].get('description') == 'changed' and
               s[pid].get('version') == r[2].get('version'))

    # A workflow created, then deleted.
    third = create_workflow('cache-third', [prompt_step('p')])
    require('a third workflow created', third is not None)
    every_read('a new workflow is in every read',
               lambda s: third['id'] in s)
    check_status('DELETE it', call('DELETE', '/api/workflows/' +
                                   third['id']), 200)
    every_read('a deleted workflow is in no read',
               lambda s: third['id'] not in s)

    # allowed_groups changed: can_start follows at once.
    r = call('PUT', '/api/workflows/' + lid, body={
        'name': leads[2]['name'],
        'definition': {'steps': [prompt_step('p')],
                       'allowed_groups': ['employee']}})
    check_status('PUT allowed_groups [employee]', r, 200)
    every_read('employee may start it once allowed_groups names employee',
               lambda s: s.get(lid, {}).get('can_start') is True,
               user='employee')
    every_read('alice (leads, employee) may too',
               lambda s: s.get(lid, {}).get('can_start') is True,
               user='alice')

    # Deleted through the API: gone from every read.
    check_status('DELETE the leads workflow',
                 call('DELETE', '/api/workflows/' + lid), 200)
    every_read('the deleted workflow is in no read', lambda s: lid not in s)
finally:
    call('DELETE', '/api/workflows/' + lid)

done()
