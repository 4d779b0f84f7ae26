"""Shared helpers of the PULSE benchmarks (bench/README.md), stdlib only.

Each benchmark is one script: it starts its own stack in a temporary
directory (./pulse-dev stack on the optimised build), measures, prints a
table, writes bench/results/<name>.json, and stops everything it started.
bench/run sets BENCH_QUICK, BENCH_TAP, BENCH_BIN (loadws) and BENCH_RESULTS.
"""

import atexit
import base64
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
QUICK = os.environ.get('BENCH_QUICK', '') == '1'
TAP = os.environ.get('BENCH_TAP', '') == '1'
TAP_N = os.environ.get('BENCH_TAP_N', '1')
RESULTS = os.environ.get('BENCH_RESULTS', os.path.join(HERE, 'results'))
LOADWS = os.environ.get('BENCH_LOADWS', os.path.join(RESULTS, 'loadws'))
CLK_TCK = os.sysconf('SC_CLK_TCK')
PAGE_KB = os.sysconf('SC_PAGE_SIZE') // 1024

sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))


def log(msg):
    print('# ' + msg if TAP else msg, file=sys.stderr if TAP else sys.stdout,
          flush=True)


# --- numbers ------------------------------------------------------------

def pct(values, p):
    """The p-th percentile (nearest rank) of values; None if empty."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def median(values):
    return statistics.median(values) if values else None


def fmt(v, unit=''):
    if v is None:
        return '-'
    if isinstance(v, float):
        if abs(v) >= 100:
            s = '%.0f' % v
        elif abs(v) >= 10:
            s = '%.1f' % v
        else:
            s = '%.2f' % v
    else:
        s = str(v)
    return s + (' ' + unit if unit else '')


def table(title, headers, rows):
    """Print a plain-text table (and return it as markdown)."""
    cols = [[str(h)] + [str(r[i]) for r in rows] for i, h in
            enumerate(headers)]
    widths = [max(len(x) for x in c) for c in cols]
    out = ['', title]
    line = '  '.join(h.ljust(w) for h, w in zip(headers, widths))
    out += [line, '-' * len(line)]
    for r in rows:
        out.append('  '.join(str(x).ljust(w) for x, w in zip(r, widths)))
    text = '\n'.join(out)
    if TAP:
        print('\n'.join('# ' + l for l in text.splitlines()), flush=True)
    else:
        print(text, flush=True)
    md = ['| ' + ' | '.join(headers) + ' |',
          '|' + '|'.join('---' for _ in headers) + '|']
    md += ['| ' + ' | '.join(str(x) for x in r) + ' |' for r in rows]
    return '\n'.join(md)


# --- processes ----------------------------------------------------------

def proc_number(pid, name, prefix, col):
    """Field col (split on blanks) of the first line of /proc/PID/name
    starting with prefix, as an int; None if the process is gone."""
    try:
        with open('/proc/%d/%s' % (pid, name)) as f:
            for line in f:
                if line.startswith(prefix):
                    return int(line.split()[col])
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_kb(pid):
    """Resident set size of pid in KiB (None if gone)."""
    try:
        with open('/proc/%d/statm' % pid) as f:
            return int(f.read().split()[1]) * PAGE_KB
    except (OSError, ValueError, IndexError):
        return None


def cpu_ticks(pid, reaped=False):
    """utime + stime of pid, in clock ticks; with reaped, also that of
    its children that ended and were waited for (a worker's commands)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        n = int(fields[11]) + int(fields[12])
        if reaped:
            n += int(fields[13]) + int(fields[14])
        return n
    except (OSError, ValueError, IndexError):
        return 0


def children(pid):
    try:
        out = subprocess.run(['pgrep', '-P', str(pid)], capture_output=True,
                             text=True).stdout
        return [int(x) for x in out.split()]
    except OSError:
        return []


def machine():
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open('/proc/meminfo') as f:
            mem = int(f.readline().split()[1]) // 1024
    except OSError:
        pass
    return {'nproc': os.cpu_count(), 'cpu': model, 'ram_mb': mem,
            'kernel': platform.release(),
            'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
            'load_at_start': os.getloadavg()[0]}


# --- the stack ----------------------------------------------------------

class Stack:
    """A PULSE stack in a temporary directory, stopped at exit."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix='pb-%s.' % name, dir='/tmp')
        os.chmod(self.dir, 0o755)
        self.env = {}
        self.started = False
        atexit.register(self.stop)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, _die)

    def start(self):
        # As with nginx's rate limit (throughput.py), the per-user caps
        # on running executions and on browser sockets are policy (the
        # browsers benchmark opens 1,000 as one user): the benchmarks
        # measure PULSE.
        env = dict(os.environ, PULSE_BUILD='bench',
                   PULSE_USER_EXECUTIONS_MAX='0', PULSE_USER_SOCKETS_MAX='0')
        for k in ('PULSE_URL', 'PULSE_CTL', 'PULSE_STACK',
                  'PULSE_ENV_FILE', 'PULSE_WORKER_API_KEY'):
            env.pop(k, None)
        self.started = True
        # No flock around it: the stack's daemons would inherit the lock
        # and hold every build on the machine for as long as they run.
        # build/bench is built by this run alone (./pulse-dev bench).
        r = subprocess.run([os.path.join(REPO, 'pulse-dev'), 'stack',
                            self.dir], env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError('pulse-dev stack failed: %s' %
                               (r.stderr[-2000:] or r.stdout[-2000:]))
        with open(os.path.join(self.dir, 'test.env')) as f:
            for line in f:
                line = line.strip()
                if '=' in line and not line.startswith('#'):
                    k, v = line.split('=', 1)
                    self.env[k] = v.strip('"')
        self.url = self.env['PULSE_URL']
        self.port = int(self.url.rsplit(':', 1)[1])
        self.key = self.env['PULSE_WORKER_API_KEY']
        self.bin = self.env['PULSE_BIN']
        self.http = Http('127.0.0.1', self.port)
        wait(lambda: self.http.get('/health')[0] == 200, 30, 'health')
        return self

    def ctl(self, *args, timeout=120):
        r = subprocess.run([os.path.join(REPO, 'pulse-dev'), 'ctl', self.dir]
                           + [str(a) for a in args], capture_output=True,
                           text=True, timeout=timeout,
                           env=dict(os.environ, PULSE_BUILD='bench'))
        if r.returncode != 0:
            raise RuntimeError('ctl %s: %s' % (args, r.stderr[-500:]))
        return r.stdout

    def sql(self, stmt):
        return self.ctl('sql', stmt)

    def pid(self, what):
        try:
            with open(os.path.join(self.dir, what + '.pid')) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def api_pids(self):
        master = self.pid('api')
        return ([master] if master else []) + (children(master) if master
                                                else [])

    def cpu_parts(self):
        """CPU seconds so far of each part of the stack: the server side
        (nginx, pulse-api, pushd, MariaDB) and the workers, whose ended
        commands (keeper, sh, the command) count with them."""
        import glob
        tick = float(CLK_TCK)
        out = {}
        for part in ('nginx', 'api'):
            top = self.pid(part)
            pids = ([top] + children(top)) if top else []
            out[part] = sum(cpu_ticks(p, reaped=part == 'nginx')
                            for p in pids) / tick
        for part in ('pushd', 'mariadb'):
            p = self.pid(part)
            out[part] = cpu_ticks(p) / tick if p else 0.0
        w = 0
        for f in glob.glob(os.path.join(self.dir, 'worker-*.pid')):
            try:
                with open(f) as fh:
                    w += cpu_ticks(int(fh.read().strip()), reaped=True)
            except (OSError, ValueError):
                pass
        out['workers'] = w / tick
        return out

    def worker_start(self, name, groups, **extra):
        self.ctl('worker-start', name, groups,
                 *['%s=%s' % kv for kv in extra.items()])

    def online_workers(self):
        r = self.http.get('/api/workers')
        if r[0] != 200:
            return set()
        return {w['name'] for w in r[2] if w.get('status') == 'online'}

    def wait_online(self, names, timeout=120):
        names = set(names)
        wait(lambda: names <= self.online_workers(), timeout,
             'workers online')

    def create_workflow(self, name, steps, notify=None):
        definition = {'steps': steps}
        if notify:
            definition['notify'] = notify
        r = self.http.post('/api/workflows', {
            'name': name, 'definition': definition})
        if r[0] != 201:
            raise RuntimeError('create workflow: %s %s' % (r[0], r[2]))
        return r[2]['id']

    def start_execution(self, wid, http=None):
        r = (http or self.http).post('/api/executions', {'workflow_id': wid})
        if r[0] != 201:
            raise RuntimeError('start execution: %s %s' % (r[0], r[2]))
        return r[2]['id']

    def browser(self, user=('admin', 'admin')):
        """A /ws socket through nginx, signed in, as the dashboard opens."""
        import wsclient
        return wsclient.connect('/ws', 'pulse-browser',
                                headers={'Origin': self.url},
                                host='127.0.0.1', port=self.port, auth=user)

    def execution(self, eid):
        return self.http.get('/api/executions/' + eid)[2]

    def stop(self):
        if not self.started:
            return
        self.started = False
        # Workers first, all at once (ctl stop waits for each in turn:
        # minutes with 50 of them), by the PIDs in their files.
        import glob
        pids = []
        for f in glob.glob(os.path.join(self.dir, 'worker-*.pid')):
            try:
                with open(f) as fh:
                    pid = int(fh.read().strip())
                os.kill(pid, signal.SIGTERM)
                pids.append(pid)
            except (OSError, ValueError):
                pass
        end = time.monotonic() + 15
        while pids and time.monotonic() < end:
            pids = [p for p in pids if rss_kb(p) is not None]
            time.sleep(0.1)
        try:
            subprocess.run([os.path.join(REPO, 'pulse-dev'), 'ctl', self.dir,
                            'stop'], capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError):
            pass
        if os.environ.get('BENCH_KEEP', '') != '1':
            shutil.rmtree(self.dir, ignore_errors=True)


def _die(signum, frame):
    sys.exit(128 + signum)


def wait(fn, timeout, what, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if fn():
                return
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(interval)
    raise RuntimeError('timed out waiting for %s' % what)


FINAL = ('completed', 'failed', 'cancelled', 'rejected', 'expired')


def final_status(ws, eid, deadline):
    """The execution_status event that ends eid, as the dashboard gets it
    on its browser socket (Stack.browser)."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError('execution %s did not finish' % eid)
        m = ws.recv_json(timeout=left)
        if m.get('type') == 'execution_status' and \
                m.get('execution_id') == eid and m.get('status') in FINAL:
            return m['status']


def end_load(load, timeout=30):
    """Stop a loadws started with stdin=PIPE: closing its stdin is its
    signal to print its stats and exit; kill it if it does not."""
    load.stdin.close()
    try:
        load.wait(timeout)
    except subprocess.TimeoutExpired:
        load.kill()
        load.wait()


def enroll(stack, prefix, n, groups=('bench',), threads=16):
    """Enroll n workers named PREFIX-00001.. through nginx, as agents do
    (POST /api/workers/enroll with one token of n uses, granting groups).
    nginx limits enrollments per client address (10/s, burst 50): that is
    policy, so every 40 requests go out from a fresh loopback address
    (127.0.0.0/8 is all ours) and what is measured is PULSE. Returns
    (path of an "id key name" file for loadws -K, seconds taken)."""
    import threading
    r = stack.http.post('/api/enrollment-tokens', {
        'groups': list(groups), 'uses': n, 'expires_in': 3600000})
    if r[0] != 201:
        raise RuntimeError('enrollment token: %s %s' % (r[0], r[2]))
    token = r[2]['token']
    out = [None] * n
    errors = []
    nextaddr = [0]
    lock = threading.Lock()

    def fresh_addr():
        with lock:
            nextaddr[0] += 1
            k = nextaddr[0]
        return '127.%d.%d.%d' % (10 + k // 65536, (k // 256) % 256,
                                 1 + k % 250)

    def one(t):
        conn, used = None, 0
        for i in range(t, n, threads):
            if conn is None or used == 40:
                if conn is not None:
                    conn.close()
                conn = http.client.HTTPConnection(
                    '127.0.0.1', stack.port, timeout=60,
                    source_address=(fresh_addr(), 0))
                used = 0
            name = '%s-%05d' % (prefix, i + 1)
            body = json.dumps({'name': name, 'groups': list(groups),
                               'version': 'bench', 'token': token})
            try:
                conn.request('POST', '/api/workers/enroll', body=body,
                             headers={'Content-Type': 'application/json'})
                resp = conn.getresponse()
                doc = json.loads(resp.read() or b'null')
            except (OSError, http.client.HTTPException, ValueError) as e:
                errors.append('%s: %s' % (name, e))
                return
            used += 1
            if resp.status != 201:
                errors.append('%s: %s %s' % (name, resp.status, doc))
                return
            out[i] = '%s %s %s' % (doc['worker_id'], doc['key'], name)
        if conn is not None:
            conn.close()

    t0 = time.monotonic()
    ts = [threading.Thread(target=one, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.monotonic() - t0
    if errors:
        raise RuntimeError('enroll: %d failed, first: %s' %
                           (len(errors), errors[0]))
    path = os.path.join(stack.dir, 'keys-%s' % prefix)
    with open(path, 'w') as f:
        os.fchmod(f.fileno(), 0o600)
        f.write('\n'.join(out) + '\n')
    return path, took


class Http:
    """One keep-alive connection to nginx, signed in as admin."""

    def __init__(self, host, port, user='admin', source=None):
        self.host, self.port, self.source = host, port, source
        self.auth = 'Basic ' + base64.b64encode(
            ('%s:%s' % (user, user)).encode()).decode()
        self.conn = None

    def request(self, method, path, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=60,
                    source_address=(self.source, 0) if self.source else None)
            headers = {'Authorization': self.auth}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers['Content-Type'] = 'application/json'
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = raw
            if r.getheader('Connection', '').lower() == 'close':
                self.conn.close()
                self.conn = None
            return r.status, r, doc

    def get(self, path):
        return self.request('GET', path)

    def post(self, path, body):
        return self.request('POST', path, body)

    def delete(self, path):
        return self.request('DELETE', path)


# --- results ------------------------------------------------------------

class Result:
    """Figures of one benchmark, written as JSON and shown in the summary.

    figure(): one line of the summary: what, PULSE's value, the peer or
    limit it is compared with, the target, and whether it is met
    (None when there is no target).
    """

    def __init__(self, name, title):
        self.name, self.title = name, title
        self.doc = {'name': name, 'title': title, 'quick': QUICK,
                    'machine': machine(), 'figures': [], 'tables': [],
                    'notes': []}
        self.t0 = time.monotonic()

    def figure(self, what, value, peer='', target='', met=None):
        self.doc['figures'].append({'figure': what, 'value': value,
                                    'peer': peer, 'target': target,
                                    'met': met})

    def key(self, key, what, value, unit, target=None, met=None, peer='',
            **extra):
        """A figure with a stable key (bench/README.md's list), written to
        summary.json as {key, figure, value, unit, target, met} (+ extra,
        e.g. via=): value a number (None if not measured), target the
        issue's wording or None, met True/False, or None without a target
        or a value."""
        if value is None or target is None:
            met = None
        elif met is not None:
            met = bool(met)
        f = {'figure': what, 'value': fmt(value, unit), 'peer': peer,
             'target': target or '', 'met': met, 'key': key, 'num': value,
             'unit': unit}
        f.update(extra)
        self.doc['figures'].append(f)

    def table(self, title, headers, rows, data=None):
        md = table(title, headers, rows)
        self.doc['tables'].append({'title': title, 'markdown': md,
                                   'data': data})

    def note(self, text):
        self.doc['notes'].append(text)
        log('note: ' + text)

    def write(self):
        self.doc['seconds'] = round(time.monotonic() - self.t0, 1)
        os.makedirs(RESULTS, exist_ok=True)
        path = os.path.join(RESULTS, self.name + '.json')
        with open(path + '.tmp', 'w') as f:
            json.dump(self.doc, f, indent=1, default=str)
        os.replace(path + '.tmp', path)
        return path


def main(name, title, fn):
    """Run fn(result) and report: one TAP line in --tap mode."""
    res = Result(name, title)
    log('== %s: %s%s' % (name, title, ' (quick)' if QUICK else ''))
    try:
        fn(res)
        res.doc['ok'] = True
        res.write()
        if TAP:
            print('ok %s - %s: %s' % (TAP_N, name, title), flush=True)
        return 0
    except Exception as e:  # the reason goes in the report
        import traceback
        traceback.print_exc()
        res.doc['ok'] = False
        res.doc['error'] = str(e)
        res.write()
        if TAP:
            print('not ok %s - %s: %s (%s)' % (TAP_N, name, title,
                                            str(e).replace('\n', ' ')[:200]),
                  flush=True)
        else:
            print('FAILED: %s: %s' % (name, e), flush=True)
        return 1


def _fcgi_record(rtype, content):
    """FastCGI records of one type for content (request id 1, padded to
    8), the empty one that ends a stream when content is empty."""
    recs = []
    for k in range(0, max(len(content), 1), 65535):
        part = content[k:k + 65535]
        pad = -len(part) % 8
        recs.append(bytes([1, rtype, 0, 1]) + len(part).to_bytes(2, 'big')
                    + bytes([pad, 0]) + part + bytes(pad))
    return b''.join(recs)


def _fcgi_pair(k, v):
    out = b''
    for x in (k, v):
        out += bytes([len(x)]) if len(x) < 128 else \
            (len(x) | 0x80000000).to_bytes(4, 'big')
    return out + k + v


def fcgi_exchange(sock_path, params, data=b'', timeout=60):
    """One FastCGI request on its own connection (as nginx sends them):
    (status, {lower-case header: value}, body bytes). Unlike
    pulse_test.fcgi_request it keeps the response headers (Retry-After)."""
    env = b''.join(_fcgi_pair(k.encode(), v.encode())
                   for k, v in params.items())
    msg = (_fcgi_record(1, bytes([0, 1, 0, 0, 0, 0, 0, 0])) +
           (_fcgi_record(4, env) if env else b'') + _fcgi_record(4, b'') +
           (_fcgi_record(5, data) if data else b'') + _fcgi_record(5, b''))
    import socket
    # Without FCGI_KEEP_CONN the application closes the connection after
    # its END_REQUEST: read to the end, then take the records apart.
    chunks = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(msg)
        for got in iter(lambda: s.recv(65536), b''):
            chunks.append(got)
    raw, at, stdout = b''.join(chunks), 0, []
    while at + 8 <= len(raw):
        size = int.from_bytes(raw[at + 4:at + 6], 'big')
        if raw[at + 1] == 6:
            stdout.append(raw[at + 8:at + 8 + size])
        at += 8 + size + raw[at + 6]
    head, _, body = b''.join(stdout).partition(b'\r\n\r\n')
    status, headers = 200, {}
    for line in head.decode('latin-1').split('\r\n'):
        name, sep, value = line.partition(':')
        if sep:
            headers[name.strip().lower()] = value.strip()
    if 'status' in headers:
        status = int(headers['status'].split()[0])
    return status, headers, body


class Fcgi:
    """pulse-api's FastCGI socket, spoken to directly (one connection per
    request, as nginx does), with the parameters nginx would set for the
    dev SSO user admin. Used where nginx's per-user rate limit on
    POST /api/executions (10/s) would measure the policy, not PULSE.
    request() returns (status, {lower-case header: value}, document)."""

    def __init__(self, path, user='admin', groups='admin'):
        self.path, self.user, self.groups = path, user, groups

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else b''
        params = {
            'REQUEST_METHOD': method, 'REQUEST_URI': path,
            'DOCUMENT_URI': path.split('?')[0], 'SCRIPT_NAME':
            path.split('?')[0], 'QUERY_STRING': path.partition('?')[2],
            'CONTENT_TYPE': 'application/json' if body is not None else '',
            'CONTENT_LENGTH': str(len(data)) if body is not None else '',
            'SERVER_PROTOCOL': 'HTTP/1.1', 'REQUEST_SCHEME': 'http',
            'GATEWAY_INTERFACE': 'CGI/1.1', 'SERVER_SOFTWARE': 'nginx',
            'REMOTE_ADDR': '127.0.0.1', 'HTTP_HOST': '127.0.0.1',
            'HTTP_REMOTE_USER': self.user, 'HTTP_REMOTE_GROUPS': self.groups,
            'HTTP_REMOTE_NAME': self.user, 'HTTP_REMOTE_EMAIL':
            self.user + '@pulse.local'}
        status, headers, rest = fcgi_exchange(self.path, params, data)
        try:
            doc = json.loads(rest) if rest else None
        except ValueError:
            doc = rest
        return status, headers, doc

    def post(self, path, body):
        return self.request('POST', path, body)

    def get(self, path):
        return self.request('GET', path)
