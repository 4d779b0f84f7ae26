#!/usr/bin/env python3
"""Identity over kept connections: nginx keeps its connections to the SSO
(upstream pulse_authelia / pulse_sso_standin, keepalive), and browsers keep
theirs to nginx, so one connection at each hop carries many users' requests
one after another. Every answer must still name the user of that request
and no other.

Eight clients, each on one keep-alive connection to nginx, send 100 GET
/api/user each, every one as a user picked at random: admin, employee,
outsider (signed in, no role: 403), a wrong password (401), no credentials
(401), no credentials but the client's own Remote-User: admin header (401),
and the stand-in's "nameless" (SSO answers 200 with an empty Remote-User:
401). The SSO connections are shared by all eight, so a value kept from one
auth request to the next would show up as a wrong user or a wrong status.
"""

import base64
import http.client
import json
import random
import threading
import urllib.parse

from pulse_test import URL, check, diag, done

CLIENTS = 8
REQUESTS = 100


def basic(user, password):
    return 'Basic ' + base64.b64encode(
        ('%s:%s' % (user, password)).encode()).decode()


# (label, headers, expected status, expected username or None)
CASES = [
    ('admin', {'Authorization': basic('admin', 'admin')}, 200, 'admin'),
    ('employee', {'Authorization': basic('employee', 'employee')}, 200,
     'employee'),
    ('outsider', {'Authorization': basic('outsider', 'outsider')}, 403,
     None),
    ('wrong password', {'Authorization': basic('admin', 'nope')}, 401, None),
    ('no credentials', {}, 401, None),
    ('client Remote-User', {'Remote-User': 'admin', 'Remote-Groups': 'admin'},
     401, None),
    ('nameless', {'Authorization': basic('nameless', 'nameless')}, 401, None),
]


def client(n, results):
    u = urllib.parse.urlsplit(URL)
    rnd = random.Random(n)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    reconnects = 0
    for _ in range(REQUESTS):
        label, headers, want_status, want_user = rnd.choice(CASES)
        try:
            conn.request('GET', '/api/user', headers=headers)
            r = conn.getresponse()
            body = r.read()
        except (OSError, http.client.HTTPException) as e:
            results.append((label, 'error %s' % e))
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            reconnects += 1
            continue
        got_user = None
        if r.status == 200:
            try:
                got_user = json.loads(body).get('username')
            except ValueError:
                got_user = '<not JSON>'
        ok = r.status == want_status and got_user == want_user
        results.append((label, None if ok else 'status %d user %r (wanted '
                        '%d %r)' % (r.status, got_user, want_status,
                                    want_user)))
        if r.getheader('Connection', '').lower() == 'close':
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            reconnects += 1
    conn.close()
    results.append(('reconnects', reconnects))


per = [[] for _ in range(CLIENTS)]
threads = [threading.Thread(target=client, args=(i, per[i]))
           for i in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()

answers = [x for res in per for x in res if x[0] != 'reconnects']
reconnects = sum(x[1] for res in per for x in res if x[0] == 'reconnects')
wrong = [x for x in answers if x[1] is not None]
seen = sorted({x[0] for x in answers})
check('%d requests answered' % (CLIENTS * REQUESTS),
      len(answers) == CLIENTS * REQUESTS, len(answers))
check('every kind of request was sent (%s)' % ', '.join(seen),
      len(seen) == len(CASES), seen)
check('every answer names the user of its own request, or refuses it',
      not wrong, '\n'.join('%s: %s' % w for w in wrong[:20]))
# nginx keeps a client connection open across 401/403 answers too; if it
# closed them, this test would not be testing kept connections at all.
check('client connections were kept (%d reconnects in %d requests)' %
      (reconnects, CLIENTS * REQUESTS), reconnects < CLIENTS * REQUESTS / 4,
      reconnects)
diag('%d answers, %d wrong, %d reconnects' % (len(answers), len(wrong),
                                              reconnects))
done()
