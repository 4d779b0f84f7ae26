#!/usr/bin/env python3
"""The worker socket and the heartbeat as an attacker would use them
(README "The worker protocol", DESIGN sections 4, 6 and 8):
  - keys: missing, empty, wrong, nearly right, sent elsewhere (query,
    Authorization): 401 before any upgrade, heartbeat included;
  - each worker has its own key (SPEC section 12; the fakes here enroll
    with a token), and a worker reports only on commands dispatched to
    IT: results, starts and output for another worker's command (under
    its own id, or claiming the other's id in the message) close the
    socket with 1008 and change nothing; one for a command that does not
    exist is acknowledged as unknown and stored nowhere; a new worker id
    with the shared key cannot take an online worker's name: it is only a
    pending replacement candidate, never sent that worker's commands;
  - replayed results: the same result 50 times at once, a different one
    afterwards, and again after a reconnect: one result stored, the next
    step dispatched once, one completion;
  - unknown message types, messages before worker_connect, malformed
    JSON, binary frames, deep JSON: closed;
  - oversize frames and endless fragments, on /worker and on /ws: closed
    (1009), and pushd keeps serving every other socket.
"""

import os
import select
import struct
import threading
import time
import uuid

import seclib
import wsclient
from live import execute, online, run, wait_execution
from pulse_test import (WORKER_API_KEY, accept_if_pending, at_end, call,
                        check, diag, done, have_ctl, origin, require, sql,
                        unique, wait_for)

require('PULSE_WORKER_API_KEY is set', WORKER_API_KEY != '')
require('PULSE_CTL is set', have_ctl())
require('local-1 online', online('local-1', 60) is not None)
accept_if_pending('local-1')	# the stack's shared-key agent
PUSHD = seclib.pid_of('pushd-pid')
diag('pushd pid %s, RSS %s KiB at start' % (PUSHD, seclib.rss_kib(PUSHD)
                                            if PUSHD else None))
fakes = []


def fake(prefix, groups=()):
    w = seclib.FakeWorker(unique(prefix), groups)
    fakes.append(w)
    at_end(w.delete)
    return w


def closed_code(ws, timeout=10):
    r = ws.wait_closed(timeout)
    return r[0] if r else None


def upgrade(headers, path='/worker', sub='pulse-worker'):
    try:
        ws = wsclient.connect(path, sub, headers=headers)
    except wsclient.HandshakeRefused as e:
        return e.status
    ws.close()
    return 101


def still_serving(label):
    """pushd alive, the same process, and serving workers and browsers."""
    ok = PUSHD is not None and seclib.pid_of('pushd-pid') == PUSHD
    w = online('local-1', 30) is not None
    try:
        b = wsclient.connect('/ws', 'pulse-browser', auth=('employee',
                                                           'employee'),
                             headers={'Origin': origin()})
        hello = b.recv_json(10)
        b.close()
    except (OSError, wsclient.WSError) as e:
        hello = str(e)
    check('%s: pushd is the same process, local-1 online, /ws says hello'
          % label, ok and w and isinstance(hello, dict) and
          hello.get('type') == 'hello', [ok, w, hello])


# --- keys ------------------------------------------------------------------
K = WORKER_API_KEY
check('the right key upgrades (101)', upgrade({'X-API-Key': K}) == 101)
BAD_KEYS = {
    'missing': {},
    'empty': {'X-API-Key': ''},
    'wrong': {'X-API-Key': 'not-the-key'},
    'one character more': {'X-API-Key': K + 'x'},
    'one character less': {'X-API-Key': K[:-1]},
    'upper case': {'X-API-Key': K.upper()} if K.upper() != K else
                  {'X-API-Key': K[:-1] + 'Z'},
    'with a NUL-like suffix': {'X-API-Key': K + '%00'},
    'as Authorization: Bearer': {'Authorization': 'Bearer ' + K},
    'under another name': {'X-Api-Token': K, 'Api-Key': K},
    'underscored name': {'X_API_Key': K},
}
for label, h in BAD_KEYS.items():
    check('/worker, key %s: 401 before the upgrade' % label,
          upgrade(h) == 401, upgrade(h))
    body = {'worker_id': str(uuid.uuid4()), 'name': unique('wp-hb'),
            'metadata': {}}
    r = call('POST', '/api/workers/heartbeat', user=None, body=body,
             headers=h)
    check('heartbeat, key %s: 401' % label, r[0] == 401, r[0])
check('/worker?key=... without the header: 401',
      upgrade({}, path='/worker?api_key=' + K) in (401, 404))

# --- another worker's commands ----------------------------------------------
A = fake('wp-a')
B = fake('wp-b')
require('fake workers A and B online', A.online() and B.online())
e = run([execute('On A', 'true', [A.name])], prefix='wp-foreign')
require('an execution targets A', e is not None)
cmd = A.next_command(30)
require('A receives execute_command', cmd is not None and
        cmd.get('command_id'), cmd)

B.ws.send_json(B.result(cmd, stdout='forged by B\n'))
check('B reports A\'s command: closed 1008', closed_code(B.ws) == 1008)
B2 = fake('wp-b2')
require('B2 online', B2.online())
forged = B2.result(cmd, stdout='forged, claiming A\n')
forged['worker_id'] = A.id
B2.ws.send_json(forged)
check('B2 reports A\'s command claiming A\'s worker_id: closed 1008',
      closed_code(B2.ws) == 1008)
B3 = fake('wp-b3')
require('B3 online', B3.online())
B3.ws.send_json({'type': 'command_started', 'command_id': cmd['command_id'],
                 'execution_id': cmd['execution_id']})
check('B3 says it started A\'s command: closed 1008',
      closed_code(B3.ws) == 1008)
B5 = fake('wp-b5')
require('B5 online', B5.online())
B5.ws.send_json({'type': 'command_output', 'command_id': cmd['command_id'],
                 'execution_id': cmd['execution_id'], 'stream': 'stdout',
                 'offset': 0, 'encoding': 'base64',
                 'data': 'Zm9yZ2VkIGxpdmUgb3V0cHV0Cg=='})
check('B5 streams output for A\'s command: closed 1008',
      closed_code(B5.ws) == 1008)
B4 = fake('wp-b4')
require('B4 online', B4.online())
ghost = str(uuid.uuid4())
B4.ws.send_json(B4.result({'command_id': ghost,
                           'execution_id': cmd['execution_id']}))
# No such command (deleted, past retention, before a restore): nothing is
# stored, and the worker is told to forget it rather than shut out, or
# an agent that spools it would resend it for ever (issue 11).
m, _ = B4.ws.recv_until(lambda x: x.get('type') == 'result_ack', 10)
check('B4 reports a command that does not exist: acknowledged as unknown',
      m is not None and m.get('command_id') == ghost and
      m.get('status') == 'unknown', m)

x = call('GET', '/api/executions/' + e['id'])[2]
d = x['steps'][0]['dispatches'][0]
check('after the forgeries A\'s command is still A\'s and running',
      d['worker_name'] == A.name and d['status'] in ('sent', 'running') and
      'forged' not in d['stdout'], d)
A.ws.send_json(A.result(cmd, stdout='real\n'))
x = wait_execution(e['id'], timeout=60)
d = x['steps'][0]['dispatches'][0]
check('A\'s own result is the one stored', x['status'] == 'completed' and
      d['stdout'] == 'real\n' and d['status'] == 'succeeded', d)

# A new worker id may not take a registered worker's name: with the shared
# key it is only a replacement candidate, pending, until an admin accepts.
l1_id = seclib.worker_id_of('local-1')
thief = seclib.FakeWorker('local-1', groups=('demo', 'db'), shared=True)
at_end(thief.delete)
check('a new worker_id claiming the name local-1 is told: pending',
      thief.state() == 'pending')
row = wait_for(lambda: [w for w in call('GET', '/api/workers')[2]
                        if w['id'] == thief.id], 10)
check('... a replacement candidate under a name of its own, granted '
      'nothing', row and row[0]['state'] == 'pending' and
      row[0]['name'] != 'local-1' and row[0]['replaces'] == l1_id and
      row[0]['groups'] == [], row)
e = run([execute('Thief', 'true', ['local-1'])], prefix='wp-thief')
check('... and a step for local-1 never reaches it',
      thief.next_command(3) is None)
if e:
    wait_execution(e['id'], timeout=60)
l1 = online('local-1', 10)
check('local-1 keeps its id and stays online',
      l1 is not None and l1['id'] == l1_id, l1)
thief.close()

# --- replayed results ---------------------------------------------------------
R = fake('wp-replay')
require('fake worker R online', R.online())
e = run([execute('One', 'true', [R.name]), execute('Two', 'true', [R.name])],
        prefix='wp-replay')
require('a two-step execution targets R', e is not None)
EID = e['id']
c1 = R.next_command(30)
require('R receives step 0', c1 is not None and c1.get('step_index') == 0,
        c1)
frame = R.result(c1, stdout='first\n')
# 50 copies in one write: pushd sees them back to back, and its db thread
# may hold several at once.
payload = b''
for _ in range(50):
    data = wsclient.json.dumps(frame).encode()
    key = b'\x01\x02\x03\x04'
    masked = wsclient._mask(data, key)
    n = len(data)
    head = struct.pack('!BB', 0x81, 0x80 | 126) + struct.pack('!H', n) \
        if n < 65536 else struct.pack('!BBQ', 0x81, 0x80 | 127, n)
    payload += head + key + masked
R.ws.sock.sendall(payload)
acks, step1 = 0, []
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    m = R.ws.recv_json(2)
    if m is None:
        if acks >= 50:
            break
        continue
    if m.get('type') == 'result_ack':
        acks += 1
    elif m.get('type') == 'execute_command':
        step1.append(m)
check('50 replays: every one acknowledged (the worker may forget it)',
      acks == 50, acks)
check('50 replays: step 1 dispatched exactly once', len(step1) == 1,
      [m.get('step_index') for m in step1])
# A different result for the same command, then the same after a
# reconnect: nothing changes.
R.ws.send_json(R.result(c1, stdout='second\n', success=False, exit_code=3))
m, _ = R.ws.recv_until(lambda x: x.get('type') == 'result_ack', 10)
check('a different result for a finished command is acknowledged, '
      'not stored', m is not None)
R.close()
R2 = seclib.FakeWorker(R.name, worker_id=R.id, key=R.key)
fakes.append(R2)
require('R reconnects', R2.online())
R2.ws.send_json(R2.result(c1, stdout='third\n'))
m, seen = R2.ws.recv_until(lambda x: x.get('type') == 'result_ack', 10)
check('the replay after a reconnect is acknowledged', m is not None)
redo = [x for x in seen if x.get('type') == 'execute_command']
if step1:
    # Step 1 is still in flight: a reconnect may resend it (same id).
    check('only step 1 is resent, with its own command id',
          all(x['command_id'] == step1[0]['command_id'] for x in redo),
          redo)
    R2.ws.send_json(R2.result(step1[0], stdout='two\n'))
x = wait_execution(EID, timeout=60)
d0 = x['steps'][0]['dispatches']
check('one dispatch for step 0, holding the first result',
      len(d0) == 1 and d0[0]['stdout'] == 'first\n' and
      d0[0]['exit_code'] == 0 and d0[0]['status'] == 'succeeded', d0)
check('the execution completed once', x['status'] == 'completed', x)
rows = sql("SELECT type, COUNT(*) FROM events WHERE execution_id = '%s' "
           "AND (type = 'execution_status' OR type = 'dispatch_status') "
           "GROUP BY type ORDER BY type" % EID)
diag('events: %s' % rows)
n_final = sql("SELECT COUNT(*) FROM events WHERE execution_id = '%s' AND "
              "type = 'execution_status' AND JSON_VALUE(payload, "
              "'$.status') = 'completed'" % EID)
check('one completion event', n_final == [['1']], n_final)
n_done = sql("SELECT COUNT(*) FROM events WHERE execution_id = '%s' AND "
             "type = 'dispatch_status' AND JSON_VALUE(payload, '$.status') "
             "= 'succeeded'" % EID)
check('one "succeeded" event per step (2)', n_done == [['2']], n_done)
R2.close()

# --- off-protocol messages ---------------------------------------------------


def off_protocol(label, send, want=(1008,)):
    w = wsclient.connect('/worker', 'pulse-worker',
                         headers={'X-API-Key': K})
    send(w)
    code = closed_code(w)
    check('%s: closed %s' % (label, '/'.join(map(str, want))),
          code in want, code)


hello = {'type': 'worker_connect', 'worker_id': str(uuid.uuid4()),
         'worker_name': unique('wp-junk'), 'groups': [], 'running': []}
at_end(lambda: call('DELETE', '/api/workers/%s' % hello['worker_id']))


def after_hello(msg):
    def send(w):
        w.send_json(hello)
        w.send_text(msg if isinstance(msg, str) else
                    wsclient.json.dumps(msg))
    return send


off_protocol('unknown type before worker_connect',
             lambda w: w.send_json({'type': 'rm_rf'}))
off_protocol('command_result before worker_connect',
             lambda w: w.send_json({'type': 'command_result',
                                    'command_id': str(uuid.uuid4()),
                                    'success': True}))
off_protocol('unknown type after worker_connect',
             after_hello({'type': 'execute_command', 'command': 'id'}))
off_protocol('type is a number', after_hello({'type': 7}))
off_protocol('a JSON array', after_hello('[1,2,3]'))
off_protocol('malformed JSON', after_hello('{"type":'))
off_protocol('trailing garbage', after_hello('{"type":"pong"} x'))
off_protocol('JSON nested 100 deep',
             after_hello('{"type":"pong","x":' + '[' * 100 + ']' * 100 +
                         '}'))
off_protocol('JSON nested 100,000 deep',
             after_hello('[' * 100000 + ']' * 100000))
off_protocol('a second worker_connect', after_hello(hello))
off_protocol('command_result with a non-UUID command_id',
             after_hello({'type': 'command_result', 'command_id': "1' OR "
                          "'1'='1", 'success': True}))
off_protocol('a binary frame', lambda w: w.send_binary(b'\x00\x01'),
             want=(1003, 1008))
off_protocol('invalid UTF-8 in a text frame',
             lambda w: w.send_frame(wsclient.OP_TEXT, b'{"type":"\xff"}'),
             want=(1007, 1008, 1002))
still_serving('after off-protocol messages')

# --- oversize frames and endless fragments -------------------------------


def flood(path, sub, headers, auth, first, chunk, limit):
    """Send one frame (first) or endless fragments of `chunk` bytes, until
    the server answers (its close frame) or `limit` bytes went out; then
    (close code, bytes sent). A client that goes on sending after the
    server closed gets a reset, which destroys the close frame before it
    can be read: callers pass the server's cap as the limit, which the
    message's 20-byte start then overruns with the last fragment."""
    ws = wsclient.connect(path, sub, headers=headers, auth=auth)
    sent = 0
    if path == '/ws':
        ws.recv_json(10)    # the hello: what comes after it is the answer

    def answered():
        r, _, _ = select.select([ws.sock], [], [], 0)
        return bool(r)
    try:
        if first is not None:
            ws.send_frame(wsclient.OP_TEXT, first)
            sent = len(first)
        else:
            ws.send_frame(wsclient.OP_TEXT, b'{"type":"pong","x":"' +
                          b'a' * chunk, fin=False)
            sent = chunk
            while sent < limit and not answered():
                ws.send_frame(wsclient.OP_CONT, b'a' * chunk, fin=False)
                sent += chunk
    except OSError:
        pass
    code = closed_code(ws, 30)
    try:
        ws.sock.close()
    except OSError:
        pass
    return code, sent


PUSHD_LOG = os.path.join(seclib.STACK, 'log', 'pulse-pushd.log')


def log_size():
    try:
        return os.path.getsize(PUSHD_LOG)
    except OSError:
        return 0


def too_long_logged(since):
    """pushd logged a 'message longer than' refusal after offset since."""
    try:
        with open(PUSHD_LOG, 'rb') as f:
            f.seek(since)
            return b'message longer than' in f.read()
    except OSError:
        return False


def refused_too_large(label, fn):
    """1009, or a reset that lost the close frame in flight while pushd
    says it refused the message (a loaded machine's timing)."""
    mark = log_size()
    code, sent = fn()
    ok = code == 1009 or (code == 1006 and too_long_logged(mark))
    check('%s: closed 1009 (%d KiB sent)' % (label, sent // 1024), ok,
          (code, sent))


WMAX = 4 * 1024 * 1024
BMAX = 4096
wh = {'X-API-Key': K}
bh = {'Origin': origin()}
BA = ('employee', 'employee')
refused_too_large('/worker: one 4 MiB + 22 byte frame', lambda: flood(
    '/worker', 'pulse-worker', wh, None,
    b'{"type":"pong","x":"' + b'a' * WMAX + b'"}', 0, 0))
refused_too_large('/worker: never-ending 64 KiB fragments', lambda: flood(
    '/worker', 'pulse-worker', wh, None, None, 65536, WMAX))
refused_too_large('/ws: one 4 KiB + 24 byte frame', lambda: flood(
    '/ws', 'pulse-browser', bh, BA,
    b'{"type":"resume","x":"' + b'a' * BMAX + b'"}', 0, 0))
refused_too_large('/ws: never-ending 1 KiB fragments', lambda: flood(
    '/ws', 'pulse-browser', bh, BA, None, 1024, BMAX))

# A frame header announcing 2^62 bytes, then silence: closed once the
# announced size is over the limit, or held harmlessly; either way the
# others are served.
ws = wsclient.connect('/worker', 'pulse-worker', headers=wh)
ws.sock.sendall(struct.pack('!BBQ', 0x81, 0xff, 1 << 62) + b'\x00' * 4 +
                b'{"type"')
code = closed_code(ws, 5)
diag('/worker: a 2^62-byte frame header: %s' %
     ('closed %s' % code if code else 'still open after 5 s'))
ws.sock.close()

# Many connections fragmenting at once, while a real command runs.
threads = [threading.Thread(target=flood, args=(
    '/worker', 'pulse-worker', wh, None, None, 65536, 64 * 1024 * 1024))
    for _ in range(4)] + [threading.Thread(target=flood, args=(
        '/ws', 'pulse-browser', bh, BA, None, 1024, 1024 * 1024))
    for _ in range(4)]
for t in threads:
    t.start()
e = run([execute('During the flood', 'echo still-here', ['local-1'])],
        prefix='wp-flood')
for t in threads:
    t.join(120)
x = wait_execution(e['id'], timeout=120) if e else None
check('a command on local-1 runs while 8 sockets flood pushd',
      x and x['status'] == 'completed' and
      x['steps'][0]['dispatches'][0]['stdout'] == 'still-here\n', x)
still_serving('after the oversize frames and fragments')
diag('pushd RSS after the floods: %s KiB' % seclib.rss_kib(PUSHD))

for w in fakes:
    try:
        w.close()
    except OSError:
        pass
done()
