#!/usr/bin/env python3
"""Identity comes only from the SSO answer: Remote-* headers a client sends
through nginx (any case, underscores, repeated) never change who it is
(SPEC section 3, STACK-NOTES "Trusted headers through nginx")."""

import uuid

from pulse_test import (call, check, check_status, create_workflow, done,
                        have_ctl, prompt_step, require, sql, unique)

SPOOF_NAME = 'Mallory Spoofer'
SPOOF_EMAIL = 'mallory@evil.example'

# Header sets a client might try; each is sent with employee credentials.
VARIANTS = {
    'canonical Remote-*': [
        ('Remote-User', 'admin'), ('Remote-Groups', 'admin'),
        ('Remote-Name', SPOOF_NAME), ('Remote-Email', SPOOF_EMAIL)],
    'Remote-Groups alone': [('Remote-Groups', 'admin')],
    'odd case': [
        ('rEmOtE-uSeR', 'admin'), ('REMOTE-GROUPS', 'admin'),
        ('remote-name', SPOOF_NAME), ('ReMoTe-EmAiL', SPOOF_EMAIL)],
    'underscores': [
        ('Remote_User', 'admin'), ('Remote_Groups', 'admin'),
        ('Remote_Name', SPOOF_NAME), ('Remote_Email', SPOOF_EMAIL)],
    'CGI names': [
        ('HTTP_REMOTE_USER', 'admin'), ('HTTP_REMOTE_GROUPS', 'admin'),
        ('REMOTE_USER', 'admin')],
    'repeated': [
        ('Remote-User', 'admin'), ('Remote-User', 'admin'),
        ('Remote-Groups', 'admin'), ('Remote-Groups', 'admin,employee'),
        ('Remote-Name', SPOOF_NAME), ('Remote-Name', SPOOF_NAME),
        ('Remote-Email', SPOOF_EMAIL), ('Remote-Email', SPOOF_EMAIL)],
    'group list': [('Remote-Groups', 'employee,admin')],
}

wf = create_workflow('spoof', [prompt_step('Ask')])
require('fixture: admin creates a workflow', wf is not None)
wid = wf['id']
new_wf = {'name': unique('spoof-new'),
          'definition': {'steps': [prompt_step('Ask')]}}

for label, hdrs in VARIANTS.items():
    r = call('GET', '/api/user', user='employee', headers=hdrs)
    d = r[2] if isinstance(r[2], dict) else {}
    check_status('%s: GET /api/user as employee' % label, r, 200)
    check('%s: still employee' % label,
          d.get('username') == 'employee' and d.get('role') == 'employee'
          and d.get('groups') == ['employee'], d)
    check('%s: name and email from the SSO' % label,
          d.get('name') == 'Employee User' and
          d.get('email') == 'employee@pulse.local', d)

    check_status('%s: POST /api/workflows stays forbidden' % label,
                 call('POST', '/api/workflows', user='employee',
                      body=new_wf, headers=hdrs), 403)
    check_status('%s: PUT /api/workflows/:id stays forbidden' % label,
                 call('PUT', '/api/workflows/' + wid, user='employee',
                      body=new_wf, headers=hdrs), 403)
    check_status('%s: DELETE /api/workflows/:id stays forbidden' % label,
                 call('DELETE', '/api/workflows/' + wid, user='employee',
                      headers=hdrs), 403)

    check_status('%s: no credentials stays 401' % label,
                 call('GET', '/api/user', user=None, headers=hdrs), 401)
    check_status('%s: outsider stays 403' % label,
                 call('GET', '/api/workflows', user='outsider',
                      headers=hdrs), 403)

    r = call('GET', '/health', user=None, headers=hdrs)
    check_status('%s: /health unaffected' % label, r, 200)

    r = call('POST', '/api/workers/heartbeat', user=None, headers=hdrs,
             body={'worker_id': str(uuid.uuid4()),
                   'name': unique('spoof-worker'), 'metadata': {}})
    check_status('%s: heartbeat without key stays 401' % label, r, 401)
    r = call('POST', '/api/workers/heartbeat', user=None,
             headers=hdrs + [('X-API-Key', 'not-the-key')],
             body={'worker_id': str(uuid.uuid4()),
                   'name': unique('spoof-worker'), 'metadata': {}})
    check_status('%s: heartbeat with a wrong key stays 401' % label, r, 401)

check('the workflow employee tried to delete is still there',
      call('GET', '/api/workflows/' + wid, user='admin')[0] == 200)

# A spoofed identity never reaches the users table.
require('PULSE_CTL is set (needed to read the users table)', have_ctl())
rows = sql("SELECT username FROM users WHERE display_name = '%s' "
           "OR email = '%s'" % (SPOOF_NAME, SPOOF_EMAIL))
check('no users row carries the spoofed name or email', rows == [], rows)
rows = sql("SELECT display_name, email FROM users "
           "WHERE username = 'employee'")
check('the employee row keeps the SSO name and email',
      rows == [['Employee User', 'employee@pulse.local']], rows)

done()
