#!/usr/bin/env python3
"""One browser must not stall dispatch for everyone (issue 12, item 1):
  - a burst of 1,000 `resume` messages on one /ws socket closes it for
    abuse (1008, "too many messages") after at most the burst allowance;
  - the burst costs at most a few replay queries (a newer resume replaces
    the waiting one; a closed socket's is dropped), counted by
    pulse_replays_total, and they run on pushd's replay thread;
  - a direct command started right after the burst still runs;
  - an honest browser's resume still replays and ends with "resumed".
"""

import os
import re
import struct
import time
import urllib.request

import seclib  # noqa: F401 (puts tests/integration on the path)
import wsclient
from live import online, wait_execution
from pulse_test import URL, call, check, diag, done, origin, require

STACK = os.environ.get('PULSE_STACK', '')
l1 = online('local-1', 60)
require('local-1 online', l1 is not None)


def metric(name, **labels):
    """A pushd metric from /metrics (loopback only), or None."""
    with urllib.request.urlopen(URL + '/metrics', timeout=30) as r:
        text = r.read().decode()
    want = ','.join('%s="%s"' % kv for kv in sorted(labels.items()))
    pat = r'^%s%s (\S+)$' % (re.escape(name),
                             re.escape('{%s}' % want) if want else '')
    m = re.search(pat, text, re.M)
    return float(m.group(1)) if m else None


def browser():
    return wsclient.connect('/ws', 'pulse-browser',
                            headers={'Origin': origin()},
                            auth=('employee', 'employee'))


def frame(obj):
    data = wsclient.json.dumps(obj).encode()
    key = b'\x01\x02\x03\x04'
    return struct.pack('!BB', 0x81, 0x80 | len(data)) + key + \
        wsclient._mask(data, key)


runs0 = metric('pulse_replays_total')
require('pushd counts its replays (pulse_replays_total)', runs0 is not None)

ws = browser()
hello = ws.recv_json(10)
require('a browser socket says hello', hello is not None and
        hello.get('type') == 'hello', hello)
t0 = time.monotonic()
ws.sock.sendall(frame({'type': 'resume', 'last_event_id': 0}) * 1000)
closed = ws.wait_closed(60)
# The close frame (1008) may be lost to the reset of a connection with
# unread data in it (1006): pushd's log says why either way.
log = os.path.join(STACK, 'log', 'pulse-pushd.log')
why = None
deadline = time.monotonic() + 30
while why is None and time.monotonic() < deadline:
    with open(log, errors='replace') as f:
        why = next((ln for ln in f if 'browser employee: closing: too many '
                    'messages' in ln), None)
    time.sleep(0.1)
check('1,000 resumes at once: the socket is closed for abuse',
      closed is not None and closed[0] in (1008, 1006) and why is not None,
      (closed, why))

r = call('POST', '/api/workers/%s/command' % l1['id'],
         body={'command': 'echo after the flood'})
require('a direct command right after the burst is accepted', r[0] == 201, r)
x = wait_execution(r[2]['id'], timeout=120)
check('... and it runs to completion', x['status'] == 'completed',
      x['status'])
diag('the command completed %.2f s after the burst began' %
     (time.monotonic() - t0))

quiet = None
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    quiet = metric('pulse_queue_depth', queue='replays')
    if quiet == 0:
        break
    time.sleep(0.2)
check('no replay is left waiting for the closed socket', quiet == 0, quiet)
runs = metric('pulse_replays_total') - runs0
check('the burst cost at most a few replay queries, not one per resume',
      runs <= 5, runs)
diag('%d replay queries for the burst' % runs)

ws = browser()
hello = ws.recv_json(10)
require('an honest browser connects', hello is not None and
        hello.get('type') == 'hello', hello)
last = max(0, hello['last_event_id'] - 5)
ws.send_json({'type': 'resume', 'last_event_id': last})
m, seen = ws.recv_until(lambda x: x.get('type') in ('resumed', 'resync'),
                        30)
check('its resume replays what it missed and ends with "resumed"',
      m is not None and m.get('type') == 'resumed' and
      all(e.get('event_id', last + 1) > last for e in seen[:-1]), seen[-3:])
ws.close()
done()
