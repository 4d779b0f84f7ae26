#!/usr/bin/env python3
"""./pulse-dev up with a PULSE_VAR that nginx's workers cannot reach: run
by root, they run as nobody, and a parent directory of mode 0700 (here a
fresh one under /tmp, owned by root) keeps them from the sockets in
PULSE_VAR/run. pulse-dev must say so before it starts anything: exit
nonzero with a message naming nobody, the directory and what to do, no
Python traceback, no bash "unbound variable", and no process or listener
left behind.

Needs no running stack; it starts (and must not leave) one of its own."""

import os
import shutil
import socket
import subprocess
import tempfile

from pulse_test import check, diag, done, require

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def processes_under(path):
    """PIDs whose command line mentions path."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                cmd = f.read().replace(b'\0', b' ').decode('utf-8',
                                                           'replace')
        except OSError:
            continue
        if path in cmd:
            found.append((int(pid), cmd))
    return found


if os.geteuid() != 0:
    diag('not root: nginx then runs as this user and the case cannot '
         'happen; nothing to test')
    done()
require('setpriv is installed (util-linux)', shutil.which('setpriv'))

top = tempfile.mkdtemp(prefix='pulse-up-locked.', dir='/tmp')
os.chmod(top, 0o700)
var = os.path.join(top, 'var')
port = free_port()
env = dict(os.environ, PULSE_VAR=var, PULSE_PORT=str(port))
for k in ('PULSE_URL', 'PULSE_CTL', 'PULSE_STACK', 'PULSE_BIN',
          'PULSE_ENV_FILE'):
    env.pop(k, None)
try:
    p = subprocess.Popen([os.path.join(REPO, 'pulse-dev'), 'up'], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=600)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 15)
        out, err = p.communicate()
        rc = 'timeout'
    diag('exit %s; stderr:\n%s' % (rc, err[-2000:]))
    check('pulse-dev up exits nonzero', rc not in (0, 'timeout'), rc)
    check('it says nginx runs as nobody and cannot reach PULSE_VAR/run',
          'nginx runs as nobody and cannot reach %s/run' % var in err, err)
    check('it names the directory in the way (%s, mode 700)' % top,
          '%s is mode 700' % top in err, err)
    check('it says what to do (make it reachable or set PULSE_VAR)',
          'reachable' in err and 'PULSE_VAR' in err, err)
    check('no Python traceback', 'Traceback' not in err + out, err)
    check('no unbound variable', 'unbound variable' not in err + out, err)
    check('it never claims to be up', 'PULSE is up' not in out, out)
    left = processes_under(var)
    check('no process of that stack is left running', not left, left)
    for pid, _ in left:     # ours: stop what the test started
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    s = socket.socket()
    s.settimeout(2)
    listening = s.connect_ex(('127.0.0.1', port)) == 0
    s.close()
    check('nothing listens on PULSE_PORT %d' % port, not listening)
finally:
    shutil.rmtree(top, ignore_errors=True)
done()
