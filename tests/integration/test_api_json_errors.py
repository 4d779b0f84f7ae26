#!/usr/bin/env python3
"""Every answer under /api/ is JSON ({"error": ...}, application/json),
including the errors nginx makes itself: 401 and 403 from the SSO, 400,
413, 414, 429, 502 when pulse-api is down; and a request sent under /api/
that nginx's decoding moves elsewhere (..%2f) is the API's JSON 404, never
the dashboard's HTML (nginx/api-errors.conf, $pulse_api_escaped)."""

import os
import signal
import time

from pulse_test import (call, check, ctl, diag, done, error_of, have_ctl,
                        heartbeat, wait_for)

RID = '00000000-0000-4000-8000-000000000000'


def json_error(descr, r, status):
    """r answers `status` with a JSON error body and JSON content type."""
    ctype = r[1].get('Content-Type', '')
    return check('%s -> %d, JSON {"error": ...}' % (descr, status),
                 r[0] == status and 'application/json' in ctype and
                 bool(error_of(r[2])) and '<html' not in str(r[2]).lower(),
                 'got %s %s: %r' % (r[0], ctype, str(r[2])[:200]))


# --- nginx's own errors under /api/ ---------------------------------------

for method, path in (('GET', '/api/workflows'), ('GET', '/api/user'),
                     ('GET', '/api/executions/' + RID),
                     ('POST', '/api/executions'),
                     ('DELETE', '/api/workers/' + RID)):
    kw = {'body': {'workflow_id': RID}} if method == 'POST' else {}
    r = call(method, path, user=None, **kw)
    json_error('%s %s without signing in' % (method, path), r, 401)
r = call('GET', '/api/user', user=None)
check('the JSON 401 still asks for credentials (WWW-Authenticate: Basic, '
      'the dev stand-in)',
      'basic' in (r[1].get('WWW-Authenticate') or '').lower(),
      r[1].get('WWW-Authenticate'))
json_error('GET /api/user with a wrong password',
           call('GET', '/api/user', user=('admin', 'wrong')), 401)

# The SSO itself refuses "denied" (403, as Authelia's access rules would).
json_error('GET /api/workflows as a user the SSO refuses',
           call('GET', '/api/workflows', user=('denied', 'denied')), 403)
json_error('POST /api/executions as a user the SSO refuses',
           call('POST', '/api/executions', user=('denied', 'denied'),
                body={'workflow_id': RID}), 403)

big = b'{"name":"' + b'a' * (2 * 1024 * 1024) + b'"}'
json_error('POST /api/workflows with a 2 MiB body',
           call('POST', '/api/workflows', raw=big), 413)
json_error('POST /api/executions with a 2 MiB body',
           call('POST', '/api/executions', raw=big), 413)
json_error('GET /api/workflows/<20 KiB>',
           call('GET', '/api/workflows/' + 'a' * 20000), 414)
json_error('GET /api/user with a 40 KiB header',
           call('GET', '/api/user', headers={'X-Big': 'b' * 40000}), 400)

# The per-user start limit (10/s, bursts of 20): past it, 429 as JSON.
seen = []
for _ in range(60):
    r = call('POST', '/api/executions', user='employee',
             body={'workflow_id': RID})
    if r[0] == 429:
        seen.append(r)
        break
check('a burst of starts reaches the per-user limit', seen,
      'no 429 in 60 starts')
if seen:
    json_error('POST /api/executions past the rate limit', seen[0], 429)

# --- requests sent under /api/ that nginx decodes to somewhere else -------

ESCAPES = ('/api/workflows/..%2f..%2fetc%2fpasswd',
           '/api/workflows/..%2f..%2f',
           '/api/..%2findex.html',
           '/api/..%2fmetrics',
           '/api/..%2fhealth',
           '/api/..%2fws',
           '/api/%2e%2e%2fstatic%2findex.html',
           '/%61pi/..%2fetc%2fpasswd',
           '//api/..%2f',
           '/api/./..%2fjs/app.js',
           '/api')
for path in ESCAPES:
    json_error('GET %s as admin' % path, call('GET', path), 404)
    json_error('GET %s without signing in' % path,
               call('GET', path, user=None), 401)
json_error('POST /api/workflows/..%2f..%2fetc%2fpasswd as admin',
           call('POST', '/api/workflows/..%2f..%2fetc%2fpasswd', body={}),
           404)

# Above the root: nginx's 400, as JSON.
for path in ('/api/..%2f..%2f..%2fetc%2fpasswd',
             '/%61pi/..%2f..%2fetc%2fpasswd'):
    json_error('GET %s (above the root)' % path, call('GET', path), 400)

# Still routed as before: paths nginx keeps under /api/, and the dashboard.
json_error('GET /api/no-such-route', call('GET', '/api/no-such-route'), 404)
r = call('GET', '/api/workflows/..%2fuser', user='employee')
check('GET /api/workflows/..%2fuser is /api/user (still under /api/)',
      r[0] == 200 and isinstance(r[2], dict) and
      r[2].get('username') == 'employee', r)
r = call('GET', '/')
check('GET / is still the dashboard',
      r[0] == 200 and 'text/html' in r[1].get('Content-Type', ''), r[0])
r = call('GET', '/workflows/abc')
check('a dashboard path outside /api/ is still the dashboard',
      r[0] == 200 and 'text/html' in r[1].get('Content-Type', ''), r[0])

# --- pulse-api down: nginx's 502 under /api/ -------------------------------

if have_ctl():
    master = int(ctl('api-master').strip())
    os.kill(master, signal.SIGTERM)
    gone = wait_for(lambda: call('GET', '/api/user')[0] == 502, 30)
    try:
        check('with pulse-api stopped, /api/ answers 502', gone)
        json_error('GET /api/user with pulse-api down',
                   call('GET', '/api/user'), 502)
        json_error('POST /api/executions with pulse-api down',
                   call('POST', '/api/executions',
                        body={'workflow_id': RID}), 502)
        json_error('heartbeat with pulse-api down',
                   heartbeat('json-errors-probe'), 502)
    finally:
        wait_for(lambda: not os.path.exists('/proc/%d' % master), 30)
        ctl('api-start')
        back = wait_for(lambda: call('GET', '/api/user')[0] == 200, 30)
        check('pulse-api is back', back)
else:
    diag('PULSE_CTL not set: the 502 checks are skipped')

done()
