"""The HA suite's common ground (issue 19, SPEC section 18): two control
stacks on a three-node Galera cluster, started by `./pulse-dev ha stack
DIR`, whose DIR/ha.env every file reads:

    PULSE_URLS        the control stacks' base URLs, c1 first
    PULSE_HA_CTL      "REPO/pulse-dev ha ctl DIR" (db-kill N, db-start N,
                      control-kill N, control-start N, sql N STMT,
                      worker-start NAME GROUPS [K=V..], worker-stop NAME,
                      status, ...)
    PULSE_HA_DIR      DIR (db1..3/, c1/, c2/, workers/)
    PULSE_HA_DB_PORTS the Galera nodes' client ports
and test.env's variables for control stack 1 (PULSE_URL, PULSE_CTL,
PULSE_STACK=DIR/c1 ...), so that pulse_test.py and faultlib.py work on c1
as they do on a single stack.

While a database node is down, faultlib's reads must not go to it:
use_live_sql() points faultlib's sql() at whichever node answers (each
node holds every row: a Galera read with wsrep_sync_wait sees them all).
"""

import os
import shlex
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
sys.path.insert(0, os.path.join(HERE, '..', 'fault'))

import faultlib  # noqa: E402
import pulse_test  # noqa: E402
from pulse_test import call, diag, require, wait_for  # noqa: E402

URLS = [u.strip().rstrip('/') for u in
        os.environ.get('PULSE_URLS', '').split(',') if u.strip()]
HA_CTL = os.environ.get('PULSE_HA_CTL', '')
HA_DIR = os.environ.get('PULSE_HA_DIR', '')
DB_PORTS = [int(p) for p in os.environ.get('PULSE_HA_DB_PORTS', '').split(',')
            if p.strip().isdigit()]
NODES = (1, 2, 3)
WORKERS = ('ha-1', 'ha-2')


def need_ha():
    """Stop the file (a failed check) unless ha.env was read."""
    require('ha.env read: PULSE_URLS (2), PULSE_HA_CTL, PULSE_HA_DIR, '
            'PULSE_HA_DB_PORTS (3)', len(URLS) == 2 and HA_CTL and HA_DIR and
            len(DB_PORTS) == 3, {'PULSE_URLS': URLS, 'PULSE_HA_CTL': HA_CTL,
                                 'PULSE_HA_DIR': HA_DIR,
                                 'PULSE_HA_DB_PORTS': DB_PORTS})


# --- the control stacks ------------------------------------------------------

def url(n):
    return URLS[n - 1]


def call_on(n, method, path, **kw):
    """pulse_test.call() through control stack n's nginx (1 or 2)."""
    return call(method, path, url=url(n), **kw)


def try_on(n, method, path, **kw):
    """call_on(), with a refused or dropped connection as status 0."""
    try:
        return call_on(n, method, path, **kw)
    except Exception as e:  # refused, reset, http.client's errors
        return 0, None, str(e)


def address(n):
    u = urllib.parse.urlsplit(url(n))
    return u.hostname, u.port


def origin_of(n):
    host, port = address(n)
    return 'http://%s:%d' % (host, port)


def browser_on(n, user=('admin', 'admin'), timeout=15):
    """A signed-in /ws socket through stack n's nginx, as the dashboard
    opens it (SSO by basic auth to the stand-in, the stack's Origin)."""
    import wsclient
    host, port = address(n)
    return wsclient.connect('/ws', 'pulse-browser',
                            headers={'Origin': origin_of(n)}, host=host,
                            port=port, auth=user, timeout=timeout)


def stack_dir(n):
    return os.path.join(HA_DIR, 'c%d' % n)


def healthy(n):
    r = try_on(n, 'GET', '/health', user=None, timeout=5)
    return r[0] == 200


# --- ctl ------------------------------------------------------------------------

class HaError(Exception):
    pass


def ha_ctl(op, *args, timeout=240):
    """`$PULSE_HA_CTL op args...` (no shell); returns stdout."""
    argv = shlex.split(HA_CTL) + [str(op)] + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise HaError('ha ctl %s %s: exit %d: %s' % (
            op, ' '.join(str(a) for a in args), p.returncode,
            (p.stderr or p.stdout).strip()[-800:]))
    return p.stdout


# --- SQL on one node ------------------------------------------------------------

def _socket(n):
    return os.path.join(HA_DIR, 'db%d' % n, 'run', 'mysql.sock')


def sql_on(n, stmt, timeout=30):
    """Rows (lists of str) of stmt as root on Galera node n, database
    pulse. Straight through the node's socket when it is there (a test
    reads often; `ha ctl sql` is a bash script each time), else by ctl."""
    sock = _socket(n)
    if os.path.exists(sock):
        p = subprocess.run(['mariadb', '--no-defaults', '-uroot', '-S', sock,
                            '-N', '-B', 'pulse', '-e', stmt],
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise HaError('sql on node %d: %s' % (n, p.stderr.strip()))
        out = p.stdout
    else:
        out = ha_ctl('sql', n, stmt, timeout=timeout)
    return [line.split('\t') for line in out.splitlines() if line != '']


_down = set()     # nodes this file killed and has not started again
_lock = threading.Lock()


def sql_any(stmt):
    """stmt on the first node that answers, skipping those known down."""
    err = None
    for n in NODES:
        with _lock:
            if n in _down:
                continue
        try:
            return sql_on(n, stmt)
        except (HaError, subprocess.TimeoutExpired) as e:
            err = e
    raise err or HaError('no database node answers')


def use_live_sql():
    """faultlib's checker reads through sql_any(), not c1's socket (its
    node may be the one killed)."""
    faultlib.sql = sql_any


# --- the cluster ---------------------------------------------------------------

def node_status(n):
    """{'size', 'state', 'ready', 'connected'} of node n, None if it does
    not answer."""
    try:
        rows = sql_on(n, "SHOW GLOBAL STATUS WHERE Variable_name IN "
                      "('wsrep_cluster_size', 'wsrep_local_state_comment', "
                      "'wsrep_ready', 'wsrep_connected')", timeout=10)
    except (HaError, subprocess.TimeoutExpired):
        return None
    v = {r[0]: r[1] for r in rows if len(r) == 2}
    return {'size': int(v.get('wsrep_cluster_size', 0) or 0),
            'state': v.get('wsrep_local_state_comment'),
            'ready': v.get('wsrep_ready'),
            'connected': v.get('wsrep_connected')}


def cluster_status():
    return {n: node_status(n) for n in NODES}


def all_synced(st=None):
    st = st or cluster_status()
    return all(s is not None and s['size'] == 3 and s['state'] == 'Synced'
               and s['ready'] == 'ON' for s in st.values())


def wait_synced(timeout=180):
    """Until the three nodes say Synced in a cluster of 3; the last
    status seen (a dict per node) and whether it got there."""
    last = [None]

    def probe():
        last[0] = cluster_status()
        return all_synced(last[0])
    ok = wait_for(probe, timeout, 0.5)
    return bool(ok), last[0]


def db_kill(n):
    with _lock:
        _down.add(n)
    return ha_ctl('db-kill', n)


def db_start(n, timeout=300):
    out = ha_ctl('db-start', n, timeout=timeout)
    with _lock:
        _down.discard(n)
    return out


# --- workers --------------------------------------------------------------------

def workers_on(n):
    """{name: row} of GET /api/workers through stack n."""
    r = try_on(n, 'GET', '/api/workers')
    if r[0] != 200:
        return {}
    rows = r[2] if isinstance(r[2], list) else \
        pulse_test.items(r[2], 'workers') or []
    return {w.get('name'): w for w in rows if isinstance(w, dict)}


def online(names=WORKERS, n=1, timeout=60):
    """Until every worker of names is online (seen through stack n)."""
    def probe():
        ws = workers_on(n)
        return all(ws.get(x, {}).get('status') == 'online' for x in names)
    return bool(wait_for(probe, timeout, 0.5))


def worker_nodes(names=WORKERS):
    """{name: pushd_node} from the database: which control stack holds
    each worker's socket."""
    rows = sql_any("SELECT name, COALESCE(pushd_node, ''), status FROM "
                   "workers WHERE name IN (%s)" % ','.join(
                       "'%s'" % x for x in names))
    return {r[0]: (r[1], r[2]) for r in rows}


def worker_start(name, groups, **env):
    return ha_ctl('worker-start', name, groups,
                  *['%s=%s' % kv for kv in env.items()])


def worker_stop(name):
    try:
        return ha_ctl('worker-stop', name)
    except HaError as e:
        diag('worker-stop %s: %s' % (name, e))


# --- setting up and leaving ------------------------------------------------------

def heal():
    """Start whatever a file left dead: database nodes, control stacks;
    the stage heals between files too, this is for a file's own end."""
    for n in NODES:
        if node_status(n) is None:
            try:
                db_start(n)
            except HaError as e:
                diag('heal: %s' % e)
    for n in (1, 2):
        if not healthy(n):
            try:
                ha_ctl('control-start', n)
            except HaError as e:
                diag('heal: %s' % e)


def ready(timeout=180):
    """The prerequisites of every file: ha.env, a Synced cluster of 3,
    both stacks answering, ha-1 and ha-2 online."""
    need_ha()
    ok, st = wait_synced(timeout)
    require('the Galera cluster has 3 nodes, each Synced', ok, st)
    require('both control stacks answer /health',
            wait_for(lambda: healthy(1) and healthy(2), 60, 0.5),
            [healthy(1), healthy(2)])
    require('workers ha-1 and ha-2 are online', online(WORKERS, 1, 90),
            {k: v.get('status') for k, v in workers_on(1).items()})
    use_live_sql()


def since(t0):
    return '%.1f s' % (time.monotonic() - t0)
