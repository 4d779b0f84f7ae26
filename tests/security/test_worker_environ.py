#!/usr/bin/env python3
"""A command cannot read the agent's secrets from /proc/PID/environ.

A real agent started with PULSE_ENROLL_TOKEN (which it enrolls with),
WORKER_API_KEY, SECRET_KEY and DB_PASSWORD in its environment runs a
command that reads /proc/PID/environ of itself and of every ancestor up
to the agent (its keeper included): none holds a secret, nor the key the
agent got by enrolling. /proc/PID/environ shows the block the kernel set up at exec,
which unsetenv() leaves as it was, so this fails unless the agent wipes
those bytes. The agent still has its key: its heartbeats keep being
accepted, and after pushd restarts its websocket reconnects and it runs
the next command. While a command runs, the memory of its keeper (a
fork of the agent) holds no copy of the worker's own key: the agent keeps its copies
in a page the kernel wipes in a child (MADV_WIPEONFORK)."""

import base64
import os
import tempfile
import uuid

import seclib  # noqa: F401 (puts tests/integration on sys.path)
from live import by_worker, execute, online, run, start_worker, \
    wait_execution
from pulse_test import WORKER_API_KEY, call, check, ctl, diag, done, \
    require, wait_for

name = 'environ-%s' % uuid.uuid4().hex[:8]
STACK = os.environ.get('PULSE_STACK', '')
secret_key = 'secret-key-%s' % uuid.uuid4().hex
db_password = 'db-password-%s' % uuid.uuid4().hex
require('the stack has a worker key', len(WORKER_API_KEY) >= 16)


def environ_chain(agent):
    """Run on the worker: each pid from the command's shell up to the
    agent, then its environ in base64."""
    return ('p=$$; while :; do echo "pid $p $(base64 -w0 /proc/$p/environ'
            ')"; [ "$p" = %d ] && break; p=$(awk \'/^PPid:/ {print $2}\' '
            '/proc/$p/status); [ "$p" -gt 1 ] || break; done' % agent)


def chain_of(stdout):
    out = []
    for line in stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] == 'pid':
            out.append((int(f[1]), base64.b64decode(f[2]) if len(f) > 2
                        else b''))
    return out


def copies(pid, needle):
    """How many copies of needle the memory of pid holds, leaving out
    those of a whole environment block (\\0WORKER_API_KEY=<key>\\0): the
    sanitizer runtime of a test build (ASan) keeps its own copy of the
    initial environment, which production builds have no trace of."""
    n = 0
    with open('/proc/%d/maps' % pid) as maps, \
            open('/proc/%d/mem' % pid, 'rb', 0) as mem:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split('-'))
            # Readable, and not ASan's terabytes of reserved shadow.
            if f[1][0] != 'r' or hi - lo > 1 << 30:
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, OverflowError, ValueError):
                continue
            at = data.find(needle)
            while at != -1:
                if data[max(0, at - 16):at] != b'\0WORKER_API_KEY=':
                    n += 1
                at = data.find(needle, at + 1)
    return n


def last_heartbeat():
    r = call('GET', '/api/workers')
    for w in r[2] if r[0] == 200 else []:
        if w['name'] == name:
            return w.get('last_heartbeat')
    return None


def gone(pid):
    """Dead, all its threads too: a zombie main thread can wait for its
    other threads, which still hold its sockets."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            zombie = f.read().rsplit(')', 1)[1].split()[0] == 'Z'
        return zombie and len(os.listdir('/proc/%d/task' % pid)) <= 1
    except OSError:
        return True


def stop():
    ctl('worker-stop', name)
    r = call('GET', '/api/workers')
    for w in r[2] if r[0] == 200 else []:
        if w['name'] == name:
            call('DELETE', '/api/workers/' + w['id'])


try:
    r = call('POST', '/api/enrollment-tokens', body={'groups': []})
    require('an enrollment token', r[0] == 201, r[2])
    token = r[2]['token']
    require('agent online', start_worker(
        name, '', PULSE_ENROLL_TOKEN=token, WORKER_API_KEY=WORKER_API_KEY,
        SECRET_KEY=secret_key, DB_PASSWORD=db_password,
        HEARTBEAT_INTERVAL=1) is not None)
    with open(os.path.join(STACK, 'workers', name, 'key')) as f:
        own = f.read().strip()
    require('it enrolled: its own key is in its state directory',
            len(own) == 43)
    agent = int(ctl('worker-pid', name).split()[0])
    e = run([execute('environ', environ_chain(agent), [name],
                     timeout=30000)], prefix='environ')
    require('execution started', e is not None)
    e = wait_execution(e['id'], timeout=60)
    d = by_worker(e, 0).get(name, {})
    require('the command ran', d.get('exit_code') == 0, d)
    chain = chain_of(d.get('stdout') or '')
    diag('pids from the command up: %s' % [p for p, _ in chain])
    check('the chain reaches the agent through the keeper',
          len(chain) >= 3 and chain[-1][0] == agent, chain)
    check('every environ in it was read',
          all(env for _, env in chain), [(p, len(v)) for p, v in chain])
    for what, value in (('WORKER_API_KEY', WORKER_API_KEY),
                        ('PULSE_ENROLL_TOKEN', token),
                        ('its own key', own),
                        ('SECRET_KEY', secret_key),
                        ('DB_PASSWORD', db_password)):
        leaks = [p for p, env in chain if value.encode() in env]
        check('%s in no environ (the command, keeper, agent)' % what,
              leaks == [], leaks)
    names = [p for p, env in chain
             if any(v.startswith((b'WORKER_API_KEY=', b'PULSE_ENROLL_TOKEN='))
                    for v in env.split(b'\0'))]
    check('not even the names WORKER_API_KEY=, PULSE_ENROLL_TOKEN= are left',
          names == [], names)

    # Nor is it in a keeper's memory (the test reads /proc/PID/mem as
    # root), while the agent has it.
    pidfile = os.path.join(tempfile.gettempdir(),
                           'pulse-environ-%s.pid' % uuid.uuid4().hex)
    e = run([execute('memory', 'echo $PPID > %s; sleep 300' % pidfile,
                     [name], timeout=600000)], prefix='environ')
    require('a command is running',
            e is not None and wait_for(lambda: os.path.exists(pidfile) and
                                       open(pidfile).read().strip(), 30))
    keeper = int(open(pidfile).read().strip())
    os.unlink(pidfile)
    in_keeper = copies(keeper, own.encode())
    in_agent = copies(agent, own.encode())
    diag('copies of the key in memory: keeper %s, agent %s' % (
        in_keeper, in_agent))
    check("the keeper's memory holds no copy of the key", in_keeper == 0,
          in_keeper)
    check("the agent's does (the scan finds what is there)", in_agent >= 1,
          in_agent)
    call('POST', '/api/executions/%s/cancel' % e['id'], body={})

    # The key is still in the agent's memory: heartbeats are accepted...
    hb = last_heartbeat()
    check('its heartbeats are still accepted',
          wait_for(lambda: last_heartbeat() not in (None, hb), 30, 0.2),
          hb)
    # ... and the websocket reconnects with it after pushd restarts.
    old = int(ctl('pushd-pid').split()[0])
    ctl('pushd-kill')
    # Its sockets are free once it is dead (a zombie holds none).
    check('pushd killed', wait_for(lambda: gone(old), 30, 0.1))
    ctl('pushd-start')
    last = [None]

    def second():
        x = run([execute('again', 'echo again', [name], timeout=30000)],
                prefix='environ')
        x = x and wait_execution(x['id'], timeout=60)
        last[0] = x and by_worker(x, 0).get(name, {})
        return last[0] if last[0] and last[0].get('exit_code') == 0 and \
            last[0].get('stdout') == 'again\n' else None
    check('after pushd restarts the agent reconnects and runs a command',
          wait_for(second, 120, 1), last[0])
    for w in ('local-1', 'local-2'):
        check('%s online again' % w, online(w, 60) is not None)
finally:
    stop()
done()
