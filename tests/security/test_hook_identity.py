#!/usr/bin/env python3
"""Identity on /hooks/<id> (SPEC section 16, DESIGN section 6): the hook
is reached without SSO, so it must take no identity at all.

  - Through nginx: signed calls carrying client-sent Remote-User, -Groups,
    -Name, -Email in several spellings start the execution as
    trigger:<name>, and the audit row's actor is trigger:<name> with no
    groups; the same headers without a signature get 401, and so do real
    SSO credentials without one.
  - nginx's /hooks/ location blanks all four Remote-* values (the config
    is read), so a hook can never inherit a signed-in identity.
  - Straight to pulse-api's FastCGI socket (what a location that forgot
    to blank them would pass), a hook that carries any Remote-* value is
    refused 400: the route cannot be reached with an identity.
"""

import hashlib
import hmac
import json
import os
import re

import seclib  # noqa: F401 (puts ../integration on sys.path)
from pulse_test import (at_end, call, check, create_workflow, done, diag,
                        fcgi_request, have_ctl, is_json_error, prompt_step, require, sql,
                        unique)

HERE = os.path.dirname(os.path.abspath(__file__))
STACK = os.environ.get('PULSE_STACK', '')
require('PULSE_CTL and PULSE_STACK are set', have_ctl() and STACK != '')

MALLORY = 'mallory'
VARIANTS = {
    'canonical': [('Remote-User', MALLORY), ('Remote-Groups', 'admin'),
                  ('Remote-Name', 'Mallory'),
                  ('Remote-Email', 'm@evil.example')],
    'odd case': [('rEMOTE-uSER', MALLORY), ('REMOTE-GROUPS', 'admin')],
    'repeated': [('Remote-User', MALLORY), ('Remote-User', 'admin'),
                 ('Remote-Groups', 'admin'), ('Remote-Groups', 'admins')],
    'CGI names': [('HTTP_REMOTE_USER', MALLORY), ('REMOTE_USER', MALLORY),
                  ('HTTP-Remote-Groups', 'admin')],
}

wf = create_workflow('hookid', [prompt_step('Ask')])
require('fixture: a workflow', wf is not None)
r = call('POST', '/api/triggers', body={'name': unique('hookid'),
                                        'workflow_id': wf['id']})
require('fixture: a trigger', r[0] == 201, r)
T = r[2]
at_end(lambda: call('DELETE', '/api/triggers/' + T['id']))
BODY = json.dumps({'ref': 'main'}).encode()
SIG = 'sha256=' + hmac.new(T['secret'].encode(), BODY,
                           hashlib.sha256).hexdigest()


def hook(headers, user=None, signed=True):
    h = [('Content-Type', 'application/json')]
    if signed:
        h.append(('X-Pulse-Signature', SIG))
    return call('POST', '/hooks/' + T['id'], user=user, raw=BODY,
                headers=h + headers)


for label, hdrs in VARIANTS.items():
    r = hook(hdrs)
    check('%s: signed hook with Remote-* -> 202' % label, r[0] == 202,
          r[2])
    eid = r[2].get('execution_id') if isinstance(r[2], dict) else None
    if eid:
        e = call('GET', '/api/executions/' + eid)[2]
        check('%s: started_by trigger:%s' % (label, T['name']),
              e.get('started_by') == 'trigger:' + T['name'], e)
        rows = sql("SELECT actor, COALESCE(actor_groups, 'NULL') "
                   "FROM audit_log WHERE target_id = '%s'" % eid)
        check('%s: audit actor trigger:<name>, no groups' % label,
              rows == [['trigger:' + T['name'], 'NULL']], rows)
    r = hook(hdrs, signed=False)
    check('%s: unsigned hook with Remote-* -> 401 JSON' % label,
          r[0] == 401 and is_json_error(r), r[2])
r = hook([], user='admin', signed=False)
check('SSO credentials without a signature -> 401', r[0] == 401, r[2])
rows = sql("SELECT COUNT(*) FROM users WHERE username = '%s'" % MALLORY)
check('no users row for the spoofed name', rows == [['0']], rows)

# --- nginx: the location blanks every Remote-* ----------------------------
with open(os.path.join(HERE, '..', '..', 'nginx', 'pulse-locations.conf'),
          encoding='utf-8') as f:
    conf = f.read()
m = re.search(r'location \^~ /hooks/ \{(.*?)\n\}', conf, re.S)
require('nginx/pulse-locations.conf has the /hooks/ location', m)
loc = '\n'.join(line.split('#')[0] for line in m.group(1).splitlines())
for name in ('USER', 'GROUPS', 'NAME', 'EMAIL'):
    check('/hooks/ sets HTTP_REMOTE_%s to ""' % name, re.search(
        r'fastcgi_param\s+HTTP_REMOTE_%s\s+"";' % name, loc) is not None)
check('/hooks/ does not ask the SSO', 'auth_request' not in loc and
      'authelia' not in loc)
check('/hooks/ is rate limited per trigger',
      re.search(r'limit_req\s+zone=pulse_hooks\b', loc) is not None)

# --- pulse-api itself refuses a hook with an identity ----------------------


def fcgi(params, body):
    st, text = fcgi_request(os.path.join(STACK, 'run', 'api.sock'), params,
                            body, timeout=10)
    return st, text.decode('utf-8', 'replace')


BASE = {'REQUEST_METHOD': 'POST', 'REQUEST_URI': '/hooks/' + T['id'],
        'DOCUMENT_URI': '/hooks/' + T['id'],
        'SCRIPT_NAME': '/hooks/' + T['id'], 'QUERY_STRING': '',
        'CONTENT_TYPE': 'application/json',
        'CONTENT_LENGTH': str(len(BODY)), 'REMOTE_ADDR': '127.0.0.1',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'HTTP_HOST': 'localhost',
        'HTTP_X_PULSE_SIGNATURE': SIG}
st, text = fcgi(BASE, BODY)
check('FastCGI, no identity: 202', st == 202, (st, text))
for name in ('HTTP_REMOTE_USER', 'HTTP_REMOTE_GROUPS', 'HTTP_REMOTE_NAME',
             'HTTP_REMOTE_EMAIL'):
    p = dict(BASE)
    p[name] = 'admin'
    st, text = fcgi(p, BODY)
    check('FastCGI, %s set: refused 400' % name, st == 400 and
          'no identity' in text, (st, text))
p = dict(BASE)
p.update({'HTTP_REMOTE_USER': '', 'HTTP_REMOTE_GROUPS': ''})
st, text = fcgi(p, BODY)
check('FastCGI, Remote-* blank as nginx sends them: 202', st == 202,
      (st, text))
diag('trigger %s' % T['id'])
done()
