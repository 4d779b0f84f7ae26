#!/usr/bin/env python3
"""One user cannot hold every socket (issue 12, item 5): pushd accepts at
most PULSE_USER_SOCKETS_MAX (100, the default, on the test stack) browser
sockets per user; the next upgrade is refused with 429, another user still
connects, and a socket closed makes room again.
"""

import time

import seclib  # noqa: F401 (puts tests/integration on the path)
import wsclient
from pulse_test import check, done, origin, require

CAP = 100


def browser(user):
    """An open /ws socket (its hello read), or the refusal's status."""
    try:
        ws = wsclient.connect('/ws', 'pulse-browser',
                              headers={'Origin': origin()},
                              auth=(user, user))
    except wsclient.HandshakeRefused as e:
        return e.status
    m = ws.recv_json(10)
    return ws if m and m.get('type') == 'hello' else None


mine = []
for _ in range(CAP):
    ws = browser('employee')
    if not isinstance(ws, wsclient.WebSocket):
        break
    mine.append(ws)
require('the employee opens %d sockets' % CAP, len(mine) == CAP, len(mine))
st = browser('employee')
check('the next one is refused with 429', st == 429, st)
other = browser('admin')
check('another user still connects', isinstance(other, wsclient.WebSocket),
      other)
mine.pop().close()
again = None
deadline = time.monotonic() + 30	# the close reaches pushd after a moment
while time.monotonic() < deadline:
    again = browser('employee')
    if isinstance(again, wsclient.WebSocket):
        break
    time.sleep(0.1)
check('one closed: the employee connects again',
      isinstance(again, wsclient.WebSocket), again)
for ws in mine + [other, again]:
    if isinstance(ws, wsclient.WebSocket):
        ws.close()
done()
