#!/usr/bin/env python3
"""The Origin rule read strictly (issue 12, item 14): an Origin is
scheme://host[:port] with one port at most, and a request carrying two
Origin headers is refused whichever comes first, on the REST API and on
the /ws upgrade alike. test_csrf.py covers the foreign origins; these
are the look-alikes the old parser let through.
"""

import base64
import http.client
import os
import urllib.parse

import seclib  # noqa: F401 (puts tests/integration on the path)
from pulse_test import URL, auth_header, check, done, origin

OWN = origin()
HOST = urllib.parse.urlsplit(URL)
TWO = 'two Origin headers'


def request(method, path, origins, extra=None, body=None):
    """Status of a request as admin with each Origin header given."""
    conn = http.client.HTTPConnection(HOST.hostname, HOST.port, timeout=30)
    try:
        conn.putrequest(method, path)
        conn.putheader('Authorization', auth_header('admin'))
        for o in origins:
            conn.putheader('Origin', o)
        for k, v in (extra or {}).items():
            conn.putheader(k, v)
        data = b''
        if body is not None:
            data = body.encode()
            conn.putheader('Content-Type', 'application/json')
            conn.putheader('Content-Length', str(len(data)))
        conn.endheaders(data)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def api(origins):
    # A cancel of an execution that does not exist: 404 once past the
    # Origin check, 403 when the check refuses.
    return request('POST', '/api/executions/%s/cancel' %
                   '00000000-0000-4000-8000-000000000000', origins,
                   body='{}')


def upgrade(origins):
    return request('GET', '/ws', origins, extra={
        'Upgrade': 'websocket', 'Connection': 'Upgrade',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': base64.b64encode(os.urandom(16)).decode(),
        'Sec-WebSocket-Protocol': 'pulse-browser'})


check('API: the own origin passes the check (404 for the missing id)',
      api([OWN]) == 404, api([OWN]))
check('/ws: the own origin upgrades (101)', upgrade([OWN]) == 101,
      upgrade([OWN]))
LOOKALIKES = {
    'a second port': OWN + ':80',
    'an https default port appended': OWN + ':443',
    'a leading-zero port': OWN.replace(':', ':0', 2).replace('http:0',
                                                            'http:'),
    'userinfo': OWN.replace('://', '://user@'),
    'a trailing dot path': OWN + '/.',
}
for label, o in LOOKALIKES.items():
    st = api([o])
    check('API: Origin with %s (%s): 403' % (label, o), st == 403, st)
    st = upgrade([o])
    check('/ws: Origin with %s: refused' % label, st in (401, 403), st)
for order in ([OWN, 'http://evil.example'], ['http://evil.example', OWN],
              [OWN, OWN]):
    st = api(order)
    check('API: %s (%s): 403' % (TWO, ', '.join(order)), st == 403, st)
    st = upgrade(order)
    check('/ws: %s (%s): refused' % (TWO, ', '.join(order)),
          st in (401, 403), st)
done()
