"""Shared helpers for the PULSE integration tests (Python 3 stdlib only).

Each test_*.py file is one scenario that talks to a running stack through
nginx, as a user would, and prints TAP:

    ok 1 - GET /health answers 200
    not ok 2 - ...
    #   diagnostic
    ok 3 - ... # SKIP why it could not be checked here
    1..3

TAP goes to stdout only; ./pulse-dev test counts it against the plan and
keeps stderr (tracebacks, tools' chatter) in a file of its own.

Configuration, by environment only:
    PULSE_URL   base URL of the stack, e.g. http://127.0.0.1:18080
    PULSE_CTL   command prefix controlling the stack, e.g.
                "/work/main/pulse-dev ctl /tmp/stack"; subcommands used:
                db-stop, db-start, api-children, api-master, sql STATEMENT
    PULSE_WORKER_API_KEY  the stack's WORKER_API_KEY (heartbeat tests)
    PULSE_TEST_VERBOSE=1  log every request as a TAP comment
"""

import atexit
import base64
import http.client
import json
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import uuid

URL = os.environ.get('PULSE_URL', 'http://127.0.0.1:8080').rstrip('/')
CTL = os.environ.get('PULSE_CTL', '')
WORKER_API_KEY = os.environ.get('PULSE_WORKER_API_KEY', '')
VERBOSE = os.environ.get('PULSE_TEST_VERBOSE', '') not in ('', '0')

# The dev stand-in's users (nginx/dev/render): the password is the name.
PASSWORDS = {'admin': 'admin', 'employee': 'employee', 'outsider': 'outsider',
             'alice': 'alice', 'bob': 'bob', 'carol': 'carol'}
ROLES = ('admin', 'employee', 'outsider', None)	# None: no credentials

_count = 0
_failed = 0
_cleanups = []

UUID_RE = re.compile(
    r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
ISO_RE = re.compile(
    r'^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$')


# --- TAP ------------------------------------------------------------------

def diag(msg):
    """Print a TAP comment (any number of lines)."""
    for line in str(msg).splitlines() or ['']:
        print('#   ' + line)
    sys.stdout.flush()


def check(descr, cond, info=None):
    """One TAP assertion; on failure prints `info` (anything) below it."""
    global _count, _failed
    _count += 1
    descr = descr.replace('#', '\\#')
    if cond:
        print('ok %d - %s' % (_count, descr))
    else:
        _failed += 1
        print('not ok %d - %s' % (_count, descr))
        if info is not None:
            diag(info if isinstance(info, str) else _short(info))
    sys.stdout.flush()
    return bool(cond)


def skip(descr, reason):
    """One TAP result that was not checked, and why: `ok N - descr # SKIP
    reason`. It counts against the plan, not as a pass; ./pulse-dev test
    shows every skip and the reason."""
    global _count
    _count += 1
    print('ok %d - %s # SKIP %s' % (_count, descr.replace('#', '\\#'),
                                     reason.replace('\n', ' ')))
    sys.stdout.flush()


def check_status(descr, r, *codes):
    """check() that response r = (status, headers, data) has one of codes."""
    status, _, data = r
    return check('%s -> %s' % (descr, '/'.join(str(c) for c in codes)),
                 status in codes, 'got %s: %s' % (status, _short(data)))


def require(descr, cond, info=None):
    """check(), and stop the file (after the plan) when it fails: later
    assertions would only repeat the same failure."""
    if not check(descr, cond, info):
        diag('prerequisite failed, stopping this file')
        done()
    return cond


def done():
    """Print the plan, run cleanups if everything passed, exit 0 or 1.
    Data is kept after a failure, to look at."""
    if _failed == 0:
        for fn in reversed(_cleanups):
            try:
                fn()
            except Exception as e:  # cleanup is best effort
                diag('cleanup: %s' % e)
    print('1..%d' % _count)
    sys.stdout.flush()
    sys.exit(1 if _failed else 0)


def at_end(fn):
    """Register fn() to run at done() when every check passed."""
    _cleanups.append(fn)


def _short(v, n=600):
    s = v if isinstance(v, str) else json.dumps(v, default=str) \
        if isinstance(v, (dict, list)) else repr(v)
    return s if len(s) <= n else s[:n] + '...(%d bytes)' % len(s)


# --- HTTP -----------------------------------------------------------------

def auth_header(user):
    if isinstance(user, tuple):
        name, pw = user
    else:
        name, pw = user, PASSWORDS.get(user, user)
    tok = base64.b64encode(('%s:%s' % (name, pw)).encode()).decode()
    return 'Basic ' + tok


def call(method, path, user='admin', body=None, headers=None, raw=None,
         timeout=30, url=None):
    """One HTTP request through nginx on a fresh connection.

    user:    'admin' | 'employee' | 'outsider' | (name, password) | None
    body:    a Python value sent as JSON (Content-Type: application/json)
    raw:     str or bytes sent as is (Content-Type application/json unless
             headers say otherwise; headers={'Content-Type': None} omits it)
    headers: dict, or list of (name, value) pairs to repeat a header;
             names are sent exactly as written (case, underscores).
    url:     another stack's base URL (tests/ha: two control stacks);
             default PULSE_URL
    Returns (status, headers, data): headers is an http.client.HTTPMessage
    (case-insensitive .get, .get_all); data is the parsed JSON when the
    response is JSON, else the text.
    """
    u = urllib.parse.urlsplit(url or URL)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                      timeout=timeout)
    if isinstance(headers, dict):
        extra = list(headers.items())
    else:
        extra = list(headers or [])

    data = None
    if raw is not None:
        data = raw.encode() if isinstance(raw, str) else raw
    elif body is not None:
        data = json.dumps(body).encode()

    hdrs = []
    if user is not None:
        hdrs.append(('Authorization', auth_header(user)))
    if data is not None and \
            not any(k.lower() == 'content-type' for k, _ in extra):
        hdrs.append(('Content-Type', 'application/json'))
    hdrs += [(k, v) for k, v in extra if v is not None]

    if VERBOSE:
        diag('%s %s user=%s headers=%s body=%s' % (
            method, path, user, [k for k, _ in extra],
            _short(data.decode('utf-8', 'replace'), 200) if data else ''))
    try:
        conn.putrequest(method, u.path.rstrip('/') + path,
                        skip_accept_encoding=True)
        for k, v in hdrs:
            conn.putheader(k, v)
        if data is not None:
            conn.putheader('Content-Length', str(len(data)))
        elif method in ('POST', 'PUT', 'PATCH'):
            conn.putheader('Content-Length', '0')
        try:
            conn.endheaders(data)
        except (BrokenPipeError, ConnectionResetError):
            # nginx may answer (413) and close before taking all of a
            # large body; the answer is usually still there to read.
            pass
        resp = conn.getresponse()
        payload = resp.read()
    finally:
        conn.close()

    text = payload.decode('utf-8', 'replace')
    ctype = resp.headers.get('Content-Type', '')
    parsed = text
    if 'json' in ctype.lower():
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
    if VERBOSE:
        diag('  -> %s %s' % (resp.status, _short(text, 300)))
    return resp.status, resp.headers, parsed


def origin():
    """The stack's own origin, as a browser would send it."""
    u = urllib.parse.urlsplit(URL)
    default = {'http': 80, 'https': 443}.get(u.scheme)
    host = u.hostname if ':' not in u.hostname else '[%s]' % u.hostname
    if u.port and u.port != default:
        return '%s://%s:%d' % (u.scheme, host, u.port)
    return '%s://%s' % (u.scheme, host)


def error_of(data):
    """The "error" text of a JSON error response, or ''."""
    if isinstance(data, dict) and isinstance(data.get('error'), str):
        return data['error']
    return ''


def is_json_error(r):
    """True when r's body is a JSON object with a string "error"."""
    return isinstance(r[2], dict) and isinstance(r[2].get('error'), str) \
        and 'json' in r[1].get('Content-Type', '').lower()


def items(data, key):
    """A list from a list response: a bare array, or {key: [...]}."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get(key), list):
        return data[key]
    return None


def fcgi_request(sock_path, params, data=b'', timeout=60):
    """One FastCGI request straight to pulse-api's socket (what nginx
    sends, with the CGI params given: nothing is filled in), one connection
    per request as nginx does. Returns (status, body bytes)."""
    def rec(t, content):
        out = b''
        while True:
            chunk, content = content[:65535], content[65535:]
            pad = (8 - len(chunk) % 8) % 8
            out += struct.pack('!BBHHBx', 1, t, 1, len(chunk), pad) + \
                chunk + b'\0' * pad
            if not content:
                return out

    def nv(k, v):
        k, v = k.encode(), v.encode()

        def ln(n):
            return bytes([n]) if n < 128 else struct.pack('!I', n | 1 << 31)
        return ln(len(k)) + ln(len(v)) + k + v
    msg = rec(1, struct.pack('!HB5x', 1, 0)) + \
        rec(4, b''.join(nv(k, v) for k, v in params.items())) + rec(4, b'')
    if data:
        msg += rec(5, data)
    msg += rec(5, b'')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    buf, out, ended = b'', b'', False
    try:
        s.connect(sock_path)
        s.sendall(msg)
        while not ended:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 8 and not ended:
                _, t, _, n, pad = struct.unpack('!BBHHB', buf[:7])
                if len(buf) < 8 + n + pad:
                    break
                if t == 6:
                    out += buf[8:8 + n]
                ended = t == 3
                buf = buf[8 + n + pad:]
    finally:
        s.close()
    head, _, rest = out.partition(b'\r\n\r\n')
    status = 200
    for line in head.split(b'\r\n'):
        if line.lower().startswith(b'status:'):
            status = int(line.split()[1])
    return status, rest


# --- values ---------------------------------------------------------------

def is_uuid(s):
    return isinstance(s, str) and bool(UUID_RE.match(s.lower()))


def is_iso8601(s):
    return isinstance(s, str) and bool(ISO_RE.match(s))


def unique(prefix):
    """A name no other run uses: prefix-<8 hex>."""
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


def wait_for(fn, timeout, interval=0.2):
    """Call fn() until it returns something true or timeout seconds pass;
    returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# --- fixtures -------------------------------------------------------------

def prompt_step(name, message='Proceed?', options=('Yes', 'No'),
                condition=None):
    s = {'name': name, 'type': 'prompt', 'message': message,
         'options': list(options)}
    if condition is not None:
        s['condition'] = condition
    return s


def create_workflow(prefix, steps, description=None, user='admin'):
    """Create a workflow as `user`; returns its JSON (or None) and deletes
    it at the end of a passing run."""
    body = {'name': unique(prefix), 'definition': {'steps': steps}}
    if description is not None:
        body['description'] = description
    r = call('POST', '/api/workflows', user=user, body=body)
    if r[0] != 201 or not isinstance(r[2], dict) or \
            not is_uuid(r[2].get('id')):
        diag('create workflow %s: %s %s' % (body['name'], r[0],
                                            _short(r[2])))
        return None
    wid = r[2]['id']
    at_end(lambda: call('DELETE', '/api/workflows/' + wid))
    return r[2]


def start_execution(workflow_id, user='admin'):
    """Start an execution; returns its JSON or None."""
    r = call('POST', '/api/executions', user=user,
             body={'workflow_id': workflow_id})
    if r[0] != 201 or not isinstance(r[2], dict):
        diag('start execution of %s: %s %s' % (workflow_id, r[0],
                                               _short(r[2])))
        return None
    return r[2]


def heartbeat(name, key=None, metadata=None, worker_id=None):
    """POST /api/workers/heartbeat without SSO, with X-API-Key `key`
    (default: the stack's key)."""
    body = {'worker_id': worker_id or str(uuid.uuid4()), 'name': name,
            'metadata': metadata if metadata is not None else {}}
    return call('POST', '/api/workers/heartbeat', user=None, body=body,
                headers={'X-API-Key': WORKER_API_KEY if key is None
                         else key})


def find_worker(name, user='admin'):
    r = call('GET', '/api/workers', user=user)
    for w in items(r[2], 'workers') or []:
        if isinstance(w, dict) and w.get('name') == name:
            return w
    return None


# --- the route table -------------------------------------------------------

ROUTER_C = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                        '..', 'fcgi-api', 'router.c')


def worker_by_id(wid, user='admin'):
    """The worker of that id in GET /api/workers, or None."""
    r = call('GET', '/api/workers', user=user)
    for w in r[2] if isinstance(r[2], list) else []:
        if w.get('id') == wid:
            return w
    return None


def route_table(path=ROUTER_C):
    """(METHOD, /path/:param) for each row of `routes[]` in router.c, in
    table order; None when the table is not found."""
    with open(path, encoding='utf-8') as f:
        src = f.read()
    m = re.search(r'const struct route\s+routes\[\]\s*=\s*\{(.*?)\n\};',
                  src, re.S)
    if m is None:
        return None
    return re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"', m.group(1))


# --- stack control --------------------------------------------------------

class CtlError(Exception):
    pass


def have_ctl():
    return bool(CTL.strip())


def ctl(*args, timeout=60):
    """Run `$PULSE_CTL args...` (no shell); returns stdout."""
    if not have_ctl():
        raise CtlError('PULSE_CTL is not set')
    argv = shlex.split(CTL) + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise CtlError('%s: exit %d: %s' % (' '.join(args), p.returncode,
                                            p.stderr.strip()))
    return p.stdout


def ctl_pids(what):
    """api-children / api-master as a list of ints."""
    return [int(x) for x in ctl(what).split()]


def sql(statement):
    """Rows of a SQL statement run by the stack's client: lists of str."""
    out = ctl('sql', statement)
    return [line.split('\t') for line in out.splitlines() if line != '']


# --- the schedulers' test clock (SPEC section 16) -------------------------------

class SchedClock:
    """$PULSE_STACK/clock, which the dev stack names in pulse-api's and
    pushd's PULSE_TEST_CLOCK_FILE: whole seconds they add to the real clock
    for schedules. Only ever moved forward (a schedule's next run already
    computed would otherwise wait). At exit, whatever the outcome, the real
    clock is back and every schedule given to keep() is disabled, so none
    fires into the tests that follow (after a failure its rows stay to be
    looked at)."""

    def __init__(self):
        stack = os.environ.get('PULSE_STACK', '')
        if not stack:
            require('PULSE_STACK names the stack (its clock file)', False)
        self.path = os.path.join(stack, 'clock')
        self.offset = 0
        self.kept = []
        atexit.register(self.quiet)
        self.set(time.time())

    def set(self, t, back=False):
        """Make the schedulers' now t (epoch seconds); back=True: a clock
        stepped back on purpose (the caller's schedules know it)."""
        new = int(round(t - time.time()))
        if new < self.offset and not back:
            require('the test clock only moves forward', False,
                    (self.offset, new))
        self.offset = new
        with open(self.path + '.tmp', 'w') as f:
            f.write('%d\n' % new)
        os.rename(self.path + '.tmp', self.path)

    def now(self):
        return time.time() + self.offset

    def next_minute(self):
        """Move to 2 s past the next whole minute; returns that minute."""
        m = (int(self.now()) // 60 + 1) * 60
        self.set(m + 2)
        return m

    def keep(self, sid):
        self.kept.append(sid)

    def quiet(self):
        if os.path.exists(self.path):
            os.remove(self.path)
        for sid in self.kept:
            try:
                call('PUT', '/api/schedules/' + sid,
                     body={'enabled': False})
            except Exception:
                pass


# --- worker identity (SPEC section 12) -------------------------------------

def make_token(groups=(), uses=1, expires_in=None, user='admin'):
    """POST /api/enrollment-tokens; returns the response (token in [2])."""
    body = {'groups': list(groups), 'uses': uses}
    if expires_in is not None:
        body['expires_in'] = expires_in
    return call('POST', '/api/enrollment-tokens', user=user, body=body)


def enroll_raw(name, groups=(), token=None, worker_id=None, key=None,
               version='test'):
    """POST /api/workers/enroll as an agent would (no SSO): with token in
    the body, else X-API-Key `key` (default: the stack's shared key)."""
    body = {'name': name, 'groups': list(groups), 'version': version}
    if token is not None:
        body['token'] = token
    if worker_id is not None:
        body['worker_id'] = worker_id
    headers = {} if token is not None else \
        {'X-API-Key': WORKER_API_KEY if key is None else key}
    return call('POST', '/api/workers/enroll', user=None, body=body,
                headers=headers)


def enroll(name, groups=(), token=None, worker_id=None):
    """Enroll a worker (with a token: accepted at once; without, by the
    shared key: pending) and return (worker_id, key); deleted at the end
    of a passing run."""
    r = enroll_raw(name, groups, token=token, worker_id=worker_id)
    if r[0] != 201 or not isinstance(r[2], dict):
        raise AssertionError('enroll %s: %s %s' % (name, r[0], _short(r[2])))
    wid = r[2]['worker_id']
    at_end(lambda: call('DELETE', '/api/workers/' + wid))
    return wid, r[2]['key']


def enroll_accepted(name, groups=()):
    """A worker accepted with exactly these groups, by a one-use token."""
    r = make_token(groups)
    if r[0] != 201:
        raise AssertionError('token: %s %s' % (r[0], _short(r[2])))
    return enroll(name, groups, token=r[2]['token'])


def accept(worker_id, groups=None):
    """POST /api/workers/:id/accept (default: the groups it asked for)."""
    if groups is None:
        return call('POST', '/api/workers/%s/accept' % worker_id,
                    headers={'Content-Type': 'application/json'})
    return call('POST', '/api/workers/%s/accept' % worker_id,
                body={'groups': list(groups)})


def accept_if_pending(name, timeout=30):
    """The stack's own shared-key agents (local-1, local-2) start pending
    unless WORKER_AUTO_ACCEPT: accept the one called name once it shows."""
    w = wait_for(lambda: find_worker(name), timeout)
    if w and w.get('state') == 'pending':
        accept(w['id'])
    return w


class WsWorker:
    """A worker that is only a websocket on /worker: the test decides what
    it says. key/worker_id are its own (enrolled); key=None is the shared
    key (a version-1 agent), which sends no X-Worker-Id."""

    def __init__(self, name, groups=(), key=None, worker_id=None,
                 header_id=None, hello=True, running=()):
        import wsclient
        self.id = worker_id or str(uuid.uuid4())
        self.name = name
        headers = {'X-API-Key': WORKER_API_KEY if key is None else key}
        if key is not None or header_id is not None:
            headers['X-Worker-Id'] = header_id or self.id
        self.ws = wsclient.connect('/worker', 'pulse-worker',
                                   headers=headers)
        if hello:
            self.ws.send_json({'type': 'worker_connect',
                               'worker_id': self.id, 'worker_name': name,
                               'groups': list(groups),
                               'version': 'trust-test',
                               'running': list(running)})

    def state(self, timeout=10):
        """The state in the worker_state message pushd sends after
        worker_connect, or None."""
        m, _ = self.ws.recv_until(
            lambda x: x.get('type') == 'worker_state', timeout)
        return m.get('state') if m else None

    def next(self, mtype, timeout=10):
        m, _ = self.ws.recv_until(lambda x: x.get('type') == mtype, timeout)
        return m

    def next_command(self, timeout=10):
        return self.next('execute_command', timeout)

    def result(self, cmd, stdout='', success=True, exit_code=0, **extra):
        msg = {'type': 'command_result', 'command_id': cmd['command_id'],
               'execution_id': cmd['execution_id'], 'worker_id': self.id,
               'success': success, 'exit_code': exit_code, 'signal': None,
               'timed_out': False, 'stdout': stdout, 'stderr': '',
               'stdout_bytes': len(stdout.encode()), 'stderr_bytes': 0,
               'stdout_truncated': False, 'stderr_truncated': False,
               'duration': 5, 'timestamp': '2026-01-01T00:00:00Z'}
        msg.update(extra)
        return msg

    def send(self, msg):
        self.ws.send_json(msg)

    def closed(self, timeout=5):
        """(code, reason) once pushd closes the socket, or None."""
        return self.ws.wait_closed(timeout)

    def close(self):
        try:
            self.ws.close()
        except OSError:
            pass
