"""Shared pieces of the security suite (tests/security/test_*.py).

The suite talks to a running stack like tests/integration does (same
environment: PULSE_URL, PULSE_CTL, PULSE_STACK, PULSE_WORKER_API_KEY) and
reuses its helpers; this module adds what several security files need:
the route table read from fcgi-api/router.c, a fake worker speaking the
worker protocol over a real websocket, and connecting to a unix socket as
another local user.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))

import wsclient  # noqa: E402
from pulse_test import (WsWorker, call, ctl, diag,  # noqa: E402
                        enroll_accepted, wait_for)

STACK = os.environ.get('PULSE_STACK', '')


def routes():
    """[(method, pattern, flags)] of `routes[]` in fcgi-api/router.c, read
    from the source so that a route added there without an entry in a
    test's table makes that test fail."""
    with open(os.path.join(REPO, 'fcgi-api', 'router.c'),
              encoding='utf-8') as f:
        src = f.read()
    m = re.search(r'const struct route routes\[\] = \{(.*?)\n\};', src,
                  re.S)
    if not m:
        return []
    out = []
    for meth, pat, flags in re.findall(
            r'\{\s*"([A-Z]+)",\s*"([^"]+)",\s*\w+,\s*([A-Z_ |\s]+?)\s*\}',
            m.group(1)):
        out.append((meth, pat, frozenset(
            x.strip() for x in flags.split('|') if x.strip())))
    return out


def worker_id_of(name):
    r = call('GET', '/api/workers')
    for w in r[2] if isinstance(r[2], list) else []:
        if w.get('name') == name:
            return w['id']
    return None


class FakeWorker(WsWorker):
    """A worker that is only a websocket: the test decides what it says.

    By default it enrolls as a real agent would with a one-use token that
    grants `groups` (SPEC section 12), then connects through nginx's
    /worker with its own key and X-Worker-Id and says worker_connect; it
    is accepted, so pushd sends it the execute_command messages of its
    steps. key/worker_id: an identity enrolled before (a reconnect).
    shared=True: a version-1 agent with the shared key and a new id,
    which the server keeps pending until an admin accepts it."""

    def __init__(self, name, groups=(), key=None, worker_id=None,
                 shared=False):
        if not shared and key is None:
            worker_id, key = enroll_accepted(name, groups)
        self.key = key
        WsWorker.__init__(self, name, groups, key=None if shared else key,
                          worker_id=worker_id)

    def online(self, timeout=30):
        def probe():
            r = call('GET', '/api/workers')
            for w in r[2] if isinstance(r[2], list) else []:
                if w.get('id') == self.id and w.get('status') == 'online':
                    return True
            return False
        return wait_for(probe, timeout, 0.2)

    def next_command(self, timeout=30):
        """The next execute_command (pings answered), or None."""
        return WsWorker.next_command(self, timeout)

    def delete(self):
        """Remove the worker row (as the admin would)."""
        call('DELETE', '/api/workers/' + self.id)


def connect_as(user, path):
    """Connect to the unix socket at path as local user `user` (no
    supplementary groups), in a child process: 'ok' or the errno name."""
    code = ('import socket,errno,sys\n'
            's=socket.socket(socket.AF_UNIX)\n'
            'try:\n'
            '    s.connect(sys.argv[1]); print("ok")\n'
            'except OSError as e:\n'
            '    print(errno.errorcode.get(e.errno, str(e.errno)))\n')
    grp = 'nogroup' if user == 'nobody' else user
    p = subprocess.run(['setpriv', '--reuid=' + user, '--regid=' + grp,
                        '--clear-groups', sys.executable, '-c', code, path],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        diag('setpriv %s: %s' % (user, p.stderr.strip()))
        return 'error'
    return p.stdout.strip()


def rss_kib(pid):
    """Resident set size of a process in KiB, or None."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def pid_of(what):
    """A pid from `ctl pushd-pid`, `ctl worker-pid NAME`..., or None."""
    try:
        out = ctl(*what.split()).split()
        return int(out[0]) if out else None
    except Exception as e:  # a dead component: the caller says so
        diag('ctl %s: %s' % (what, e))
        return None
