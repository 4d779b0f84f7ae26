#!/usr/bin/env python3
"""A command's text is not in /proc/*/cmdline, where every local user of
the worker host could read it.

local-1 runs a command holding a unique marker that no process of it
has in its own arguments; while it sleeps the test reads the cmdline of
every process on the host: none holds the marker (not the shell, not
its child, not the keeper, not the agent). The command's processes hold
no descriptor but 0-2 that a program could inherit, and cancel still
kills the whole group."""

import os
import tempfile
import uuid

import seclib  # noqa: F401 (puts tests/integration on sys.path)
from live import execute, online, pid_alive, run, wait_execution
from pulse_test import call, check, check_status, ctl, diag, done, \
    require, wait_for

marker = 'cmdline-marker-%s' % uuid.uuid4().hex
pidfile = os.path.join(tempfile.gettempdir(), 'pulse-%s.pid' % marker)
# The marker is in the shell's text only: ':' and echo are builtins,
# and the child's own argv is "sleep 300".
command = 'echo $$ > %s; : %s; sleep 300' % (pidfile, marker)


def cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read()
    except OSError:
        return None


def stat(pid):
    """(ppid, pgid) of pid, or None."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            f = f.read().rsplit(')', 1)[1].split()
        return int(f[1]), int(f[2])
    except (OSError, IndexError, ValueError):
        return None


def fds(pid):
    try:
        return sorted(int(x) for x in os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return None


def all_pids():
    return [int(x) for x in os.listdir('/proc') if x.isdigit()]


require('local-1 online', online('local-1') is not None)
agent = int(ctl('worker-pid', 'local-1').split()[0])
e = run([execute('cmdline', command, ['local-1'], timeout=600000)],
        prefix='cmdline')
require('execution started', e is not None)
try:
    require('the command is running',
            wait_for(lambda: os.path.exists(pidfile) and
                     open(pidfile).read().strip(), 30))
    sh = int(open(pidfile).read().strip())
    children = []

    def child():
        children[:] = [p for p in all_pids() if (stat(p) or (0,))[0] == sh]
        return children
    require('its child is running', wait_for(child, 30, 0.1))
    keeper = (stat(sh) or (0, 0))[0]
    ours = [sh] + children + [keeper, agent]
    for p in ours:
        diag('%d: %r' % (p, cmdline(p)))
    check('the shell has a command line',
          cmdline(sh) not in (None, b''), cmdline(sh))
    check('the shell runs under the keeper, under the agent',
          (stat(keeper) or (0,))[0] == agent, (keeper, stat(keeper)))
    check('no cmdline of the command, its keeper or the agent holds its text',
          [p for p in ours if marker.encode() in (cmdline(p) or b'')] == [])
    hits = [p for p in all_pids() if marker.encode() in (cmdline(p) or b'')
            and p != os.getpid()]
    check('no process on the host shows it in /proc/PID/cmdline', hits == [],
          [(p, cmdline(p)) for p in hits])
    check("the shell's own text is not in its cmdline either",
          b'sleep 300' not in (cmdline(sh) or b''), cmdline(sh))
    check('the child holds only descriptors 0-2',
          all(fds(p) == [0, 1, 2] for p in children),
          [(p, fds(p)) for p in children])
    check('the shell holds nothing but 0-2 a child could inherit',
          3 not in (fds(sh) or [3]), fds(sh))
    r = call('POST', '/api/executions/%s/cancel' % e['id'], body={})
    check_status('cancel', r, 200)
    check('cancel kills the shell and its child',
          wait_for(lambda: not any(pid_alive(p) and
                                   (stat(p) or (0, 0))[1] == keeper
                                   for p in [sh] + children), 30),
          [(p, stat(p)) for p in [sh] + children])
    x = wait_execution(e['id'])
    check('the execution ends cancelled',
          x and x['status'] == 'cancelled', x and x['status'])
finally:
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    call('POST', '/api/executions/%s/cancel' % e['id'], body={})
done()
