"""Helpers for the tests that run real commands on real pulse-worker
processes: start workflows, wait for executions, read their steps."""

import time

from pulse_test import at_end, call, check_status, create_workflow, ctl, \
    unique, wait_for

FINAL = ('completed', 'failed', 'cancelled')


def execution(eid, user='admin'):
    r = call('GET', '/api/executions/%s' % eid, user=user)
    return r[2] if r[0] == 200 and isinstance(r[2], dict) else None


def wait_execution(eid, statuses=FINAL, timeout=60):
    """Poll until the execution's status is one of statuses; returns it
    (or the last state seen)."""
    last = [None]

    def probe():
        e = execution(eid)
        last[0] = e
        return e if e and e['status'] in statuses else None
    return wait_for(probe, timeout, 0.1) or last[0]


def wait_step(eid, index, statuses, timeout=60):
    last = [None]

    def probe():
        e = execution(eid)
        last[0] = e
        if e and len(e['steps']) > index and \
                e['steps'][index]['status'] in statuses:
            return e
        return None
    return wait_for(probe, timeout, 0.1) or last[0]


def save_definition(defn, name=None, wid=None, prefix='live'):
    """POST a workflow of definition defn (deleted at the end), or PUT it
    over workflow wid; returns the response."""
    body = {'name': name or unique(prefix), 'definition': defn}
    if wid is None:
        r = call('POST', '/api/workflows', body=body)
        if r[0] == 201:
            new = r[2]['id']
            at_end(lambda: call('DELETE', '/api/workflows/' + new))
        return r
    return call('PUT', '/api/workflows/' + wid, body=body)


def run(steps, prefix='live', user='admin'):
    """Create a workflow of steps and start it; returns the execution."""
    wf = create_workflow(prefix, steps)
    r = call('POST', '/api/executions', user=user,
             body={'workflow_id': wf['id']})
    return r[2] if r[0] == 201 else None


def start_definition(prefix, steps, on_failure=None):
    """Save a definition of steps (and on_failure steps) and start it, one
    TAP check each; returns the execution's id."""
    wf = {'steps': steps}
    if on_failure is not None:
        wf['on_failure'] = on_failure
    r = call('POST', '/api/workflows',
             body={'name': unique(prefix), 'definition': wf})
    check_status('save %s' % [s['name'] for s in steps], r, 201)
    r = call('POST', '/api/executions', body={'workflow_id': r[2]['id']})
    check_status('start it', r, 201)
    return r[2]['id']


def execute(name, command, targets=('all',), **extra):
    s = {'name': name, 'type': 'execute', 'targets': list(targets),
         'command': command}
    s.update(extra)
    return s


def dispatches(e, index):
    return sorted(e['steps'][index].get('dispatches') or [],
                  key=lambda d: d['worker_name'])


def by_worker(e, index):
    return {d['worker_name']: d for d in dispatches(e, index)}


def online(name, timeout=30):
    """Wait until worker `name` is online with a command channel (its
    websocket connected: only then is it a target); returns its row."""
    def probe():
        r = call('GET', '/api/workers')
        if r[0] != 200:
            return None
        for w in r[2]:
            if w['name'] == name and w['status'] == 'online' and \
                    w.get('command_channel', True):
                return w
        return None
    return wait_for(probe, timeout, 0.2)


def start_worker(name, groups='', **env):
    args = ['worker-start', name, groups] + \
        ['%s=%s' % (k, v) for k, v in env.items()]
    ctl(*args)
    return online(name)


def pid_alive(pid):
    try:
        import os
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sleep(s):
    time.sleep(s)


class Proxy:
    """A TCP proxy on a loopback port in front of nginx, which a test can
    cut (every connection closed, new ones refused) and restore."""

    def __init__(self, target_host, target_port):
        import socket
        import threading
        self.target = (target_host, target_port)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(('127.0.0.1', 0))
        self.port = self.lsock.getsockname()[1]
        self.lsock.listen(64)
        self.up = True
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import threading
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if not self.up:
                c.close()
                continue
            try:
                u = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        import socket
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        import socket
        self.up = False
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def restore(self):
        self.up = True

    def close(self):
        self.cut()
        self.lsock.close()
