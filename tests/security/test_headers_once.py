#!/usr/bin/env python3
"""Each security header exactly once (issue 12, item 14): nginx adds them
to every response (nginx/security-headers.conf); pulse-api once added
X-Content-Type-Options itself, and every API answer carried it twice. A
repeated header is at best noise and at worst read differently by
different clients, so every kind of answer is checked: the dashboard,
the API (200, 401, 404, 405 and nginx's own JSON errors), /health, the
metrics and a refused websocket upgrade.
"""

import http.client
import urllib.parse

import seclib  # noqa: F401 (puts tests/integration on the path)
from pulse_test import URL, auth_header, check, done

U = urllib.parse.urlsplit(URL)
HEADERS = ('Content-Security-Policy', 'X-Frame-Options',
           'X-Content-Type-Options', 'Referrer-Policy')


def fetch(method, path, user='admin', extra=None):
    conn = http.client.HTTPConnection(U.hostname, U.port, timeout=30)
    try:
        conn.putrequest(method, path)
        if user:
            conn.putheader('Authorization', auth_header(user))
        for k, v in (extra or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        r.read()
        return r.status, r.getheaders()
    finally:
        conn.close()


CASES = [
    ('the dashboard', 'GET', '/', 'admin', None),
    ('a static file', 'GET', '/style.css', 'admin', None),
    ('GET /api/user', 'GET', '/api/user', 'admin', None),
    ('an API 401', 'GET', '/api/workflows', None, None),
    ('an API 403', 'GET', '/api/workflows', 'outsider', None),
    ('an API 404', 'GET', '/api/no-such-thing', 'admin', None),
    ('an API 405', 'DELETE', '/api/workflows', 'admin', None),
    ('/health', 'GET', '/health', None, None),
    ('/metrics/api', 'GET', '/metrics/api', None, None),
    ('a refused /ws upgrade', 'GET', '/ws', 'admin',
     {'Upgrade': 'websocket', 'Connection': 'Upgrade',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Protocol': 'pulse-browser',
      'Origin': 'http://evil.example'}),
]
for label, method, path, user, extra in CASES:
    status, headers = fetch(method, path, user, extra)
    names = [k.lower() for k, _ in headers]
    counts = {h: names.count(h.lower()) for h in HEADERS}
    check('%s (%s): each security header once' % (label, status),
          all(n == 1 for n in counts.values()), counts)
done()
