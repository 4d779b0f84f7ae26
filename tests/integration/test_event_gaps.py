#!/usr/bin/env python3
"""The event feed browsers follow (pushd/idtail.c) with AUTO_INCREMENT ids
that are not commit-ordered:
- one server (increment 1): an event whose transaction stays open while a
  later id commits is still sent, late, once it commits; the later one is
  sent after the wait that keeps the order;
- Galera's ids (auto_increment_increment 2 here, as a two-node cluster
  sets it: every other id never used): events are sent without waiting
  at the gaps (a 1 s wait at each would show in every latency), and a
  smaller id committed after larger ones were sent is still sent, once."""

import os
import statistics
import subprocess
import time
import uuid

import wsclient
from pulse_test import check, ctl, done, origin, require, sql

SOCK = os.path.join(os.environ['PULSE_STACK'], 'run', 'mysql.sock')


def browser():
    ws = wsclient.connect('/ws', 'pulse-browser',
                          headers={'Origin': origin()},
                          auth=('employee', 'employee'))
    hello = ws.recv_json(5)
    require('browser hello', hello is not None and
            hello.get('type') == 'hello', hello)
    return ws


class Held:
    """A root session whose transaction stays open until commit()."""

    def __init__(self):
        self.p = subprocess.Popen(
            ['mariadb', '--no-defaults', '-uroot', '-S', SOCK, 'pulse',
             '-N', '-B', '-n'], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def run(self, stmt):
        self.p.stdin.write(stmt + ";\nSELECT '__end__';\n")
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            if line.strip() == '__end__':
                break
            out.append(line.strip())
        return out

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


def insert(tag, session=None):
    """A worker_update event every browser gets; its id."""
    stmt = ("INSERT INTO events (type, worker_id, payload) VALUES "
            "('worker_update', NULL, JSON_OBJECT('worker_id', '%s', "
            "'status', 'gap-probe'))" % tag)
    if session is None:
        return int(sql(stmt + '; SELECT LAST_INSERT_ID()')[0][0])
    session.run(stmt)
    return int(session.run('SELECT LAST_INSERT_ID()')[0])


def wait_tag(ws, tag, timeout):
    m, _ = ws.recv_until(lambda m: m.get('type') == 'worker_update' and
                         m.get('worker_id') == tag, timeout)
    return m


def late_case(ws, label):
    late, after = str(uuid.uuid4()), str(uuid.uuid4())
    h = Held()
    h.run('BEGIN')
    late_id = insert(late, h)
    after_id = insert(after)
    check('%s: the later insert has the larger id' % label,
          after_id > late_id, (late_id, after_id))
    m = wait_tag(ws, after, 10)
    check('%s: the later id is sent while the smaller one is open' % label,
          m is not None and m.get('event_id') == after_id, m)
    h.run('COMMIT')
    h.close()
    m = wait_tag(ws, late, 10)
    check('%s: the smaller id, committed after it, is sent too' % label,
          m is not None and m.get('event_id') == late_id, m)
    again = wait_tag(ws, late, 1.5)
    check('%s: and only once' % label, again is None, again)


def latencies(ws, n):
    out = []
    for _ in range(n):
        tag = str(uuid.uuid4())
        t0 = time.monotonic()
        insert(tag)
        m = wait_tag(ws, tag, 10)
        out.append(time.monotonic() - t0 if m is not None else 99)
    return out


def restart_pushd():
    ctl('pushd-kill')
    ctl('pushd-start')


# --- one server ------------------------------------------------------------
ws = browser()
late_case(ws, 'one server')
ws.close()

# --- Galera's ids ------------------------------------------------------------
sql('SET GLOBAL auto_increment_increment = 2')
try:
    restart_pushd()     # its session takes the increment: the feed sees 2
    time.sleep(1)
    ws = browser()
    a, b = insert(str(uuid.uuid4())), insert(str(uuid.uuid4()))
    require('increment 2 in effect: ids skip', b - a == 2, (a, b))
    lat = latencies(ws, 7)
    check('gaps are not waited for: median latency %.0f ms < 700 ms' %
          (statistics.median(lat) * 1000), statistics.median(lat) < 0.7,
          lat)
    late_case(ws, 'increment 2')
    ws.close()
finally:
    # Whatever happened: the next test file gets the stack as it was.
    sql('SET GLOBAL auto_increment_increment = 1')
    restart_pushd()
done()
