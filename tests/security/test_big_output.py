#!/usr/bin/env python3
"""Executions whose output is larger than one database write or one sane
response (issue 12, items 3 and 7):
  - nine steps of 2 MiB each (18 MiB, past MariaDB's 16 MiB
    max_allowed_packet) end `completed`: the log frozen into
    executions.logs keeps at most 64 KiB of each stream;
  - one of those waiting on a prompt afterwards can be cancelled (200);
  - GET /api/executions/:id stays small (at most 256 KiB of a stream),
    says stdout_more and where the rest is; the output endpoint gives the
    whole stream back, byte for byte, in pieces of at most 1 MiB.
"""

import hashlib
import json
import random
import time

import seclib
from live import execute, run, wait_execution
from pulse_test import call, check, diag, done, require, unique

STEPS = 9
SIZE = 2 * 1024 * 1024

W = seclib.FakeWorker(unique('big-out'))
require('a raw worker is online', W.online())


def payload(n, seed):
    """n bytes of printable text, different for each step."""
    rnd = random.Random(seed)
    line = ''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz0123456789 ')
                   for _ in range(99)) + '\n'
    return (line * (n // len(line) + 1))[:n]


def serve(n, answer):
    """Answer n execute_commands with answer(cmd); the texts sent."""
    sent = []
    for _ in range(n):
        cmd = W.next_command(60)
        if cmd is None:
            break
        text = answer(cmd)
        W.ws.send_json(W.result(cmd, stdout=text))
        sent.append((cmd['command_id'], text))
    return sent


steps = [execute('Big %d' % i, 'big', [W.name]) for i in range(STEPS)]
e = run(steps, prefix='big-out')
require('a nine-step execution on the raw worker', e is not None)
t0 = time.monotonic()
sent = serve(STEPS, lambda c: payload(SIZE, c['step_index']))
require('nine commands answered with 2 MiB each', len(sent) == STEPS)
x = wait_execution(e['id'], timeout=120)
check('18 MiB of output in all: the execution completes',
      x['status'] == 'completed', (x['status'], x.get('error')))
diag('completed %.1f s after the first command' % (time.monotonic() - t0))

r = call('GET', '/api/executions/' + e['id'])
size = len(json.dumps(r[2]))
d = r[2]['steps'][0]['dispatches'][0]
check('its JSON is bounded: %d bytes (of 18 MiB stored)' % size,
      size < 8 * 1024 * 1024, size)
check('a stream shows at most 256 KiB and says where the rest is',
      len(d['stdout'].encode()) <= 256 * 1024 and d['stdout_more'] is True
      and d['stdout_bytes'] == SIZE and d.get('output_url') ==
      '/api/executions/%s/output' % e['id'],
      {k: d.get(k) for k in ('stdout_more', 'stdout_bytes', 'output_url')})
check('what it shows is the start of the output',
      sent[0][1].startswith(d['stdout']) and len(d['stdout']) > 0)
logs = r[2].get('logs')
lsize = len(json.dumps(logs))
check('the frozen logs are bounded too: %d bytes' % lsize,
      isinstance(logs, list) and lsize < 4 * 1024 * 1024, lsize)

# The whole stream back through the output endpoint.
cid, text = sent[4]
url = '/api/executions/%s/output' % e['id']
got, offset, calls = b'', 0, 0
while offset is not None and calls < 20:
    r = call('GET', '%s?command_id=%s&stream=stdout&offset=%d' %
             (url, cid, offset))
    if r[0] != 200:
        break
    calls += 1
    piece = r[2]['data'].encode()
    if len(piece) > 1024 * 1024:
        break
    got += piece
    offset = r[2]['next_offset']
check('the output endpoint gives the 2 MiB back byte for byte, in %d '
      'pieces of at most 1 MiB' % calls,
      hashlib.sha256(got).hexdigest() ==
      hashlib.sha256(text.encode()).hexdigest() and calls >= 2,
      (len(got), calls, offset))
r = call('GET', url)
check('without command_id: an index of the nine commands and their sizes',
      r[0] == 200 and len(r[2]['commands']) == STEPS and
      all(c['stdout_stored'] == SIZE for c in r[2]['commands']), r[0])
r = call('GET', '%s?command_id=%s&stream=stdin' % (url, cid))
check('a bad stream: 400 naming it', r[0] == 400 and
      r[2].get('field') == 'stream', r)
r = call('GET', '%s?command_id=%s&limit=%d' % (url, cid, 4 * 1024 * 1024))
check('a limit past 1 MiB: 400 naming it', r[0] == 400 and
      r[2].get('field') == 'limit', r)

# The same, then a prompt: cancel must not depend on a write too big.
e = run(steps + [{'name': 'Ask', 'type': 'prompt', 'message': 'Go?',
                  'options': ['Yes']}], prefix='big-cancel')
require('another nine-step execution, with a prompt at the end',
        e is not None)
sent = serve(STEPS, lambda c: payload(SIZE, 100 + c['step_index']))
x = wait_execution(e['id'], statuses=('waiting',), timeout=120)
require('it waits at its prompt', x['status'] == 'waiting', x['status'])
r = call('POST', '/api/executions/%s/cancel' % e['id'], body={})
check('cancelling it: 200', r[0] == 200, (r[0], str(r[2])[:300]))
x = wait_execution(e['id'], timeout=60)
check('it ends cancelled', x['status'] == 'cancelled', x['status'])
W.close()
W.delete()
done()
