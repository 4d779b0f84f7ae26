#!/usr/bin/env python3
"""MariaDB goes away and comes back: /health and the API say 503 while it
is away, and recover by themselves, without pulse-api being restarted
(STACK-NOTES: reconnect and re-prepare, never MYSQL_OPT_RECONNECT).
The waits end only a hung test (DEADLINE_S); how long they took is not a
check. Then DB_HOST as a list (SPEC section 18): pulse-api over TCP with a
dead first entry connects to the next and logs the switch; a bad list
stops it naming DB_HOST and the entry."""

import os
import re
import socket
import subprocess

from pulse_test import (CtlError, call, check, check_status, ctl, ctl_pids,
                        done, have_ctl, is_json_error, prompt_step, require,
                        unique, wait_for)

DEADLINE_S = 120
require('PULSE_CTL is set', have_ctl())
master = ctl_pids('api-master')
require('api-master gives one pid', len(master) == 1, master)
children = ctl_pids('api-children')
n = max(len(children), 1)

check_status('/health before', call('GET', '/health', user=None), 200)
check_status('GET /api/workflows before', call('GET', '/api/workflows'), 200)


def health():
    return call('GET', '/health', user=None)


def health_503():
    r = health()
    return r if r[0] == 503 else None


try:
    try:
        ctl('db-stop')
    except CtlError as e:
        require('db-stop', False, str(e))

    r = wait_for(health_503, DEADLINE_S) or health()
    check_status('/health with the database stopped', r, 503)
    d = r[2] if isinstance(r[2], dict) else {}
    check('/health says "database": "disconnected"',
          d.get('database') == 'disconnected', r[2])
    # Each child notices on its own connection: ask enough times that
    # every child is likely to answer at least once.
    results = [health() for _ in range(4 * n)]
    check('/health is 503 on every child',
          all(x[0] == 503 for x in results), [x[0] for x in results])

    results = [call('GET', '/api/workflows') for _ in range(4 * n)]
    check('GET /api/workflows is 503 while the database is away',
          all(x[0] == 503 for x in results), [x[0] for x in results])
    check('... with a JSON error', all(is_json_error(x) for x in results),
          results[0][2])
    r = call('POST', '/api/workflows',
             body={'name': unique('outage'),
                   'definition': {'steps': [prompt_step('Ask')]}})
    check_status('POST /api/workflows while the database is away', r, 503)
    check('... with a JSON error', is_json_error(r), r[2])
    check('pulse-api did not exit meanwhile',
          ctl_pids('api-master') == master)
finally:
    try:
        ctl('db-start', timeout=120)
    except CtlError as e:
        check('db-start', False, str(e))
        done()


def recovered():
    r = call('GET', '/health', user=None)
    d = r[2] if isinstance(r[2], dict) else {}
    return r[0] == 200 and d.get('database') == 'connected'


check('/health recovers by itself', wait_for(recovered, DEADLINE_S, 0.25))
results = [call('GET', '/health', user=None) for _ in range(4 * n)]
check('/health is 200 "connected" on every child',
      all(x[0] == 200 and isinstance(x[2], dict) and
          x[2].get('database') == 'connected' for x in results),
      [x[0] for x in results])
ok = wait_for(lambda: call('GET', '/api/workflows')[0] == 200, DEADLINE_S,
              0.25)
check('GET /api/workflows recovers by itself', ok)

# Every child must have re-prepared its statements, not only one.
results = [call('GET', '/api/workflows') for _ in range(4 * n)]
check('GET /api/workflows is 200 on every child',
      all(x[0] == 200 for x in results), [x[0] for x in results])
r = call('POST', '/api/workflows',
         body={'name': unique('after-outage'),
               'definition': {'steps': [prompt_step('Ask')]}})
check_status('POST /api/workflows after recovery', r, 201)
if r[0] == 201 and isinstance(r[2], dict):
    call('DELETE', '/api/workflows/' + r[2].get('id', ''))

check('the pulse-api master was not restarted',
      ctl_pids('api-master') == master, ctl_pids('api-master'))

# --- DB_HOST lists -----------------------------------------------------
env_file = os.environ.get('PULSE_ENV_FILE', '')
bindir = os.environ.get('PULSE_BIN', '')
sqldir = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                      'sql')
require('PULSE_ENV_FILE and PULSE_BIN are set', env_file and bindir)
with open(env_file) as f:
    env_text = f.read()
port = re.findall(r'(?m)^DB_PORT=(\d+)', env_text)[-1]
password = re.findall(r'(?m)^DB_PASSWORD=(.*)$', env_text)[-1].strip()
dead = socket.socket()          # bound, never listening: refuses
dead.bind(('127.0.0.1', 0))
dead_port = dead.getsockname()[1]


def api(args, **env):
    e = dict(os.environ, DB_SOCKET='', **env)
    p = subprocess.run([os.path.join(bindir, 'pulse-api'), '-e', env_file] +
                       args, capture_output=True, text=True, timeout=60,
                       env=e)
    return p.returncode, p.stdout + p.stderr


try:
    rc, out = api(['--migrate', sqldir],
                  DB_HOST='127.0.0.1:%d,127.0.0.1:%s' % (dead_port, port))
    check('a DB_HOST list with a dead first entry: pulse-api works on the '
          'second', rc == 0 and '(0 applied' in out, out)
    check('... and logs "db: connected to 127.0.0.1:%s"' % port,
          'db: connected to 127.0.0.1:%s' % port in out, out)
    check('... never the password', len(password) >= 8 and
          password not in out, out)
    rc, out = api(['--migrate', sqldir], DB_HOST='127.0.0.1:%d' % dead_port)
    check('a single dead entry: pulse-api fails, as before', rc != 0 and
          'cannot connect' in out and 'db: connected' not in out, out)
    rc, out = api(['--check-config'], DB_HOST='127.0.0.1,db2:0')
    check('a bad DB_HOST list stops pulse-api naming DB_HOST and the entry',
          rc != 0 and 'DB_HOST' in out and "'db2:0'" in out, out)
finally:
    dead.close()

done()
