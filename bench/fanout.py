#!/usr/bin/env python3
"""Benchmark 1: run `uptime` on N nodes and collect every output.

PULSE: N real pulse-worker processes, a one-step workflow targeting them;
timed from POST /api/executions until the execution is completed and its
N outputs are read: a browser socket signed in like the dashboard's sees
the execution_status event, then one GET /api/executions/:id brings every
output (polling that GET every 5 ms took a fifth of a core from the run).
Floor: the same N `sh -c uptime` spawned at once and their outputs read,
with no orchestration at all: what N processes cost on this machine,
which every tool here pays on top of its own work. The spawner is
bench/spawn.c (fork, pipes, one poll loop; bench/run compiles it), so
the floor is not the spawner's own cost; one floor run after each of
PULSE's, so that both meet the same moments of a busy machine; the old floor, N Popen from
this script, is kept as an extra line (Python's cost grows with N).
Target (issue 20): PULSE's 50-node p50 <= 1.25 x the floor of the run.
Peers: clush, parallel-ssh, ansible -m raw and -m shell against N host
aliases (node01..) of one private sshd on 127.0.0.1, through a private
ssh_config with ControlMaster multiplexing, every master warmed first.

The SSH peers log in as a system user `pulsebench` (created when missing)
whose shell is /bin/sh, like the `/bin/sh -c` a pulse-worker runs
commands with: root's login shell here is bash, which sources a .bashrc
for SSH commands, and this machine's runs `pyenv init` (2-3 s a command),
which would measure that file, not the tools.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

import benchlib as B

NS = [10] if B.QUICK else [10, 50]
RUNS = 3 if B.QUICK else 20
if os.environ.get('BENCH_FANOUT_NS'):	# e.g. 50 (one size, when profiling)
    NS = [int(x) for x in os.environ['BENCH_FANOUT_NS'].split(',')]
if os.environ.get('BENCH_RUNS'):
    RUNS = int(os.environ['BENCH_RUNS'])
# BENCH_FANOUT_PEERS=0: PULSE and the floor only (before/after comparisons
# of PULSE itself, where the SSH peers would only add minutes).
PEERS = os.environ.get('BENCH_FANOUT_PEERS', '1') != '0'
USER = 'pulsebench'
PAUSE = 0.25	# seconds before each timed run of PULSE and of the floor


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sshd:
    """A private sshd on 127.0.0.1 with its own keys and N host aliases."""

    def __init__(self, nmax):
        if subprocess.run(['id', USER], capture_output=True).returncode:
            subprocess.run(['useradd', '--system', '--shell', '/bin/sh',
                            '--no-create-home', USER], check=True)
        # No password; '*' rather than useradd's '!', which sshd (without
        # PAM) takes for a locked account and refuses even with a key.
        # Home /tmp: sshd and ansible want one they can enter.
        subprocess.run(['usermod', '-p', '*', '-d', '/tmp', USER],
                       check=True)
        self.dir = tempfile.mkdtemp(prefix='pb-ssh.', dir='/tmp')
        os.chmod(self.dir, 0o755)
        d = self.dir
        self.port = free_port()
        self.proc = None
        os.makedirs('/run/sshd', exist_ok=True)
        for f in ('host_key', 'id_key'):
            subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '',
                            '-f', os.path.join(d, f)], check=True)
        with open(os.path.join(d, 'id_key.pub')) as f:
            pub = f.read()
        with open(os.path.join(d, 'authorized_keys'), 'w') as f:
            f.write(pub)
        with open(os.path.join(d, 'sshd_config'), 'w') as f:
            f.write('\n'.join([
                'Port %d' % self.port, 'ListenAddress 127.0.0.1',
                'HostKey %s/host_key' % d,
                'PidFile %s/sshd.pid' % d,
                'AuthorizedKeysFile %s/authorized_keys' % d,
                'PermitRootLogin no', 'AllowUsers %s' % USER,
                'PasswordAuthentication no',
                'KbdInteractiveAuthentication no', 'UsePAM no',
                'StrictModes no', 'MaxStartups 500', 'MaxSessions 100',
                'PrintMotd no', 'PrintLastLog no', 'UseDNS no',
                'Subsystem sftp internal-sftp', 'LogLevel ERROR', '']))
        self.config = os.path.join(d, 'ssh_config')
        with open(self.config, 'w') as f:
            f.write('\n'.join([
                'Host node*', '  HostName 127.0.0.1',
                '  Port %d' % self.port, '  User %s' % USER,
                '  IdentityFile %s/id_key' % d, '  IdentitiesOnly yes',
                '  UserKnownHostsFile %s/known_hosts' % d,
                '  StrictHostKeyChecking no', '  BatchMode yes',
                '  ControlMaster auto', '  ControlPath %s/cm-%%n' % d,
                '  ControlPersist 30m', '  LogLevel ERROR', '']))
        self.hosts = ['node%02d' % i for i in range(1, nmax + 1)]
        self.env = dict(os.environ, HOME=d)

    def start(self):
        self.proc = subprocess.Popen(
            ['/usr/sbin/sshd', '-D', '-e', '-f',
             os.path.join(self.dir, 'sshd_config')],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, 'sshd.log'), 'w'))
        B.wait(lambda: socket.create_connection(('127.0.0.1', self.port),
                                                1).close() or True, 20,
               'sshd')

    def warm(self, hosts):
        procs = [subprocess.Popen(['ssh', '-F', self.config, h, 'true'],
                                  env=self.env) for h in hosts]
        bad = [h for h, p in zip(hosts, procs) if p.wait(60) != 0]
        if bad:
            raise RuntimeError('ssh warm-up failed for %s' % bad[:5])

    def stop(self):
        if self.proc is None:
            return
        # The ControlPersist masters first (ssh clients of ours, ansible's
        # included: they would outlive the run by ControlPersist), then
        # sshd's session processes, which outlive its listener.
        for h in self.hosts:
            subprocess.run(['ssh', '-F', self.config, '-O', 'exit', h],
                           capture_output=True, env=self.env)
        acp = os.path.join(self.dir, 'acp')
        for sock in (os.listdir(acp) if os.path.isdir(acp) else []):
            subprocess.run(['ssh', '-o', 'ControlPath=' + os.path.join(
                acp, sock), '-O', 'exit', 'node'], capture_output=True,
                env=self.env)
        for pid in B.children(self.proc.pid):
            try:
                os.kill(pid, 15)
            except OSError:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc = None
        subprocess.run(['rm', '-rf', self.dir])


def peer_commands(ssh, n):
    hosts = ssh.hosts[:n]
    d = ssh.dir
    with open(os.path.join(d, 'hosts'), 'w') as f:
        f.write('\n'.join(hosts) + '\n')
    with open(os.path.join(d, 'inventory'), 'w') as f:
        f.write('[nodes]\n' + '\n'.join(hosts) + '\n')
    with open(os.path.join(d, 'ansible.cfg'), 'w') as f:
        f.write('[defaults]\nhost_key_checking = False\ngathering = '
                'explicit\nforks = %d\ninterpreter_python = /usr/bin/python3'
                '\nlocal_tmp = %s/ansible-local\nremote_tmp = '
                '/tmp/.ansible-pulsebench\n\n[ssh_connection]\npipelining = True\n'
                'ssh_args = -F %s -o ControlMaster=auto -o '
                'ControlPersist=30m\ncontrol_path_dir = %s/acp\n'
                % (max(n, 5), d, ssh.config, d))
    env = dict(ssh.env, ANSIBLE_CONFIG=os.path.join(d, 'ansible.cfg'),
               ANSIBLE_HOME=os.path.join(d, 'ansible-home'))
    spec = 'node[01-%02d]' % n
    return [
        ('clush', ['clush', '-w', spec, '-f', str(max(n, 64)), '-o',
                   '-F %s' % ssh.config, 'uptime'], env,
         lambda out: out.count(' up ') >= n),
        ('parallel-ssh', ['parallel-ssh', '-h', os.path.join(d, 'hosts'),
                          '-p', str(max(n, 64)), '-x', '-F %s' % ssh.config,
                          '-i', 'uptime'], env,
         lambda out: out.count('[SUCCESS]') == n and
         out.count(' up ') >= n),
        ('ansible -m raw', ['ansible', '-i', os.path.join(d, 'inventory'),
                            'nodes', '-m', 'raw', '-a', 'uptime'], env,
         lambda out: out.count(' up ') >= n and 'FAILED' not in out
         and 'UNREACHABLE' not in out),
        ('ansible -m shell', ['ansible', '-i', os.path.join(d, 'inventory'),
                              'nodes', '-m', 'shell', '-a', 'uptime'], env,
         lambda out: out.count(' up ') >= n and 'FAILED' not in out
         and 'UNREACHABLE' not in out),
    ]


def time_peer(name, argv, env, ok, runs):
    times = []
    # One untimed run: ansible caches, the masters of its control dir.
    for i in range(runs + 1):
        t0 = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, env=env,
                           timeout=600)
        dt = time.monotonic() - t0
        if r.returncode != 0 or not ok(r.stdout + r.stderr):
            raise RuntimeError('%s failed (rc %d): %s' % (
                name, r.returncode, (r.stdout + r.stderr)[-800:]))
        if i:
            times.append(dt * 1000)
    return times


def time_floor(n, runs, warm=1):
    """N `sh -c uptime` at once from C (bench/spawn.c), every output
    read: no tool, no network, a spawner that costs next to nothing."""
    spawn = os.environ.get('BENCH_SPAWN',
                           os.path.join(B.RESULTS, 'spawn'))
    r = subprocess.run([spawn, str(n), str(runs), str(warm)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError('floor: spawn %d failed: %s' % (n, r.stderr))
    return [float(x) for x in r.stdout.split()]


def time_floor_python(n, runs):
    """The same from Python (subprocess.Popen N times): the old floor."""
    times = []
    for i in range(runs + 1):
        t0 = time.monotonic()
        procs = [subprocess.Popen(['/bin/sh', '-c', 'uptime'],
                                  stdout=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL)
                 for _ in range(n)]
        outs = [p.communicate()[0] for p in procs]
        dt = time.monotonic() - t0
        if any(p.returncode != 0 for p in procs) or \
                sum(1 for o in outs if b' up ' in o) != n:
            raise RuntimeError('floor: uptime failed')
        if i:
            times.append(dt * 1000)
    return times


def time_pulse(stack, wid, n, runs):
    """PULSE's runs, each followed by one of the floor's (bench/spawn.c),
    so that both meet the same moments of a busy machine: (PULSE's
    times, the floor's). A pause before each: what the workers do after
    a result is sent (the journal, the spool) is PULSE's and must not
    land on the floor's run (right after PULSE's, 50 nodes measured a
    floor of 418 ms against 193 ms for the Python spawner run apart)."""
    times, floor = [], []
    time_floor(n, 1)	# one warm and one run, not counted
    ws = stack.browser()
    try:
        for i in range(runs + 1):
            time.sleep(PAUSE)
            t0 = time.monotonic()
            eid = stack.start_execution(wid)
            B.final_status(ws, eid, t0 + 120)
            e = stack.execution(eid)
            dt = time.monotonic() - t0
            _check_pulse(e, eid, n)
            if i:
                times.append(dt * 1000)
                time.sleep(PAUSE)
                floor += time_floor(n, 1, warm=0)
    finally:
        ws.close()
    return times, floor


def _check_pulse(e, eid, n):
    """Completed, with n outputs of uptime."""
    outs = [r for s in e.get('steps', []) for r in
            (s.get('results') or s.get('dispatches') or [])]
    good = sum(1 for r in outs if ' up ' in (r.get('stdout') or ''))
    if e['status'] != 'completed' or good != n:
        raise RuntimeError('execution %s: %s with %d/%d outputs: %s' %
                           (eid, e['status'], good, n, str(e)[:800]))


def run(res):
    nmax = max(NS)
    stack = B.Stack('fanout').start()
    names = ['fan%02d' % i for i in range(1, nmax + 1)]
    for name in names:
        stack.worker_start(name, 'fan', HEARTBEAT_INTERVAL=30)
    stack.wait_online(names)
    ssh = Sshd(nmax) if PEERS else None
    try:
        if ssh is not None:
            ssh.start()
            ssh.warm(ssh.hosts)
        rows, data = [], {}
        for n in NS:
            # The first n workers, by name.
            wid = stack.create_workflow('bench fan-out %d' % n, [{
                'name': 'uptime', 'type': 'execute', 'targets': names[:n],
                'command': 'uptime'}])
            pulse, floor = time_pulse(stack, wid, n, RUNS)
            data[n] = {'PULSE': pulse}
            floor_py = time_floor_python(n, RUNS)
            for name, argv, env, ok in (peer_commands(ssh, n)
                                        if ssh is not None else []):
                B.log('  N=%d %s' % (n, name))
                data[n][name] = time_peer(name, argv, env, ok, RUNS)
            fastest = min(((B.pct(v, 50), k) for k, v in data[n].items()
                           if k != 'PULSE'), default=None)
            data[n]['floor: %d x sh -c uptime, no tool (C)' % n] = floor
            data[n]['%d x sh -c uptime from Python (old floor)' % n] = \
                floor_py
            for k, v in data[n].items():
                p50 = B.pct(v, 50)
                rows.append([n, k, B.fmt(p50, 'ms'), B.fmt(B.pct(v, 95),
                                                          'ms'),
                             B.fmt(p50 / B.pct(data[n]['PULSE'], 50), 'x')
                             if k != 'PULSE' else '1'])
            p50, fl = B.pct(pulse, 50), B.pct(floor, 50)
            goal = n == 50
            res.key('fanout_%d_p50_ms' % n, 'fan-out %d nodes, p50 (uptime, '
                    'all outputs)' % n, p50, 'ms',
                    '<= 1.25 x fanout_50_floor_ms (%s)' % B.fmt(
                        1.25 * fl, 'ms') if goal else None,
                    p50 <= 1.25 * fl,
                    peer='floor %s' % B.fmt(fl, 'ms'))
            res.key('fanout_%d_floor_ms' % n, 'fan-out %d nodes: floor, %d x '
                    'sh -c uptime spawned at once (bench/spawn.c, no tool)'
                    % (n, n), fl, 'ms', None, None,
                    peer='from Python: %s' % B.fmt(B.pct(floor_py, 50), 'ms'))
            res.key('fanout_%d_over_floor' % n, 'fan-out %d nodes: PULSE p50 '
                    '/ floor p50' % n, p50 / fl, 'x',
                    '<= 1.25' if goal else None, p50 / fl <= 1.25,
                    peer='PULSE %s above the floor' % B.fmt(p50 - fl, 'ms'))
            if fastest is not None:
                res.figure('fan-out %d nodes, speed-up over fastest SSH peer'
                           % n, B.fmt(fastest[0] / p50, 'x'), '%s %s' % (
                               fastest[1], B.fmt(fastest[0], 'ms')), '',
                           None)
        res.table('Fan-out: uptime on N nodes, %d runs each (PULSE: real '
                  'pulse-workers; peers: one sshd, multiplexed, warmed)'
                  % RUNS, ['N', 'tool', 'p50', 'p95', 'times PULSE p50'],
                  rows, data)
    finally:
        if ssh is not None:
            ssh.stop()
        stack.stop()


if __name__ == '__main__':
    sys.exit(B.main('fanout', 'fan-out vs SSH peers', run))
