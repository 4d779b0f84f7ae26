#!/usr/bin/env python3
"""Benchmark 5: footprint.

Resident memory (RSS; PSS beside it, from /proc/PID/smaps_rollup, which
splits pages shared between processes: `worker_idle_pss_kb`, target
<= 1024 KB, RSS beside it) of an idle pulse-worker and of one running 5
commands at once; of the pulse-api pool (master + children) and pulse-pushd idle,
under wrk on GET /api/executions, and with 1,000 simulated workers
connected (100 in --quick); and the CPU an idle stack burns (its polling)
over 20 s (5 s in --quick).
"""

import os
import subprocess
import sys
import threading
import time

import benchlib as B

IDLE_S = 5 if B.QUICK else 20
SIM = 100 if B.QUICK else 1000


def pss_kb(pid):
    return B.proc_number(pid, 'smaps_rollup', 'Pss:', 1)


def mem(pids):
    rss = sum(B.rss_kb(p) or 0 for p in pids)
    pss = sum(pss_kb(p) or 0 for p in pids)
    return rss, pss


class Peak:
    """Samples the memory of some processes every 50 ms in a thread."""

    def __init__(self, pids_fn):
        self.pids_fn, self.rss, self.pss = pids_fn, 0, 0
        self.stop = False
        self.t = threading.Thread(target=self.loop)
        self.t.start()

    def loop(self):
        while not self.stop:
            r, p = mem(self.pids_fn())
            self.rss, self.pss = max(self.rss, r), max(self.pss, p)
            time.sleep(0.05)

    def done(self):
        self.stop = True
        self.t.join()
        return self.rss, self.pss


def mb(kb):
    return B.fmt(kb / 1024.0, 'MB')


def run(res):
    stack = B.Stack('footprint').start()
    rows, data = [], {}
    try:
        stack.worker_start('fp', 'fp', HEARTBEAT_INTERVAL=30)
        stack.wait_online(['fp'])
        wid = stack.create_workflow('bench footprint sleep', [{
            'name': 'sleep', 'type': 'execute', 'targets': ['fp'],
            'command': 'sleep 3; echo done'}])
        time.sleep(3)
        wpid = stack.pid('worker-fp')

        # Idle: the whole stack, CPU over IDLE_S seconds.
        procs = {'pulse-pushd': [stack.pid('pushd')],
                 'pulse-api pool': stack.api_pids(),
                 'pulse-worker (idle)': [wpid],
                 'mariadbd': [stack.pid('mariadb')],
                 'nginx': [stack.pid('nginx')] + B.children(stack.pid('nginx'))}
        t0 = {k: sum(B.cpu_ticks(p) for p in v) for k, v in procs.items()}
        time.sleep(IDLE_S)
        for k, v in procs.items():
            cpu = (sum(B.cpu_ticks(p) for p in v) - t0[k]) / B.CLK_TCK
            r, p = mem(v)
            data[k] = {'idle_rss_kb': r, 'idle_pss_kb': p,
                       'idle_cpu_pct': 100.0 * cpu / IDLE_S}
        idle_cpu = sum(d['idle_cpu_pct'] for d in data.values())

        # The worker with 5 commands running.
        peak = Peak(lambda: [wpid])
        eids = [stack.start_execution(wid) for _ in range(5)]
        for e in eids:
            B.wait(lambda: stack.execution(e)['status'] in B.FINAL, 60,
                   'the sleeps')
        data['pulse-worker (idle)']['busy_rss_kb'], \
            data['pulse-worker (idle)']['busy_pss_kb'] = peak.done()

        # pulse-api and pushd under wrk.
        peak_api = Peak(stack.api_pids)
        peak_pushd = Peak(lambda: [stack.pid('pushd')])
        subprocess.run(['wrk', '-t2', '-c50', '-d%ds' % (3 if B.QUICK else 10),
                        '-H', 'Authorization: Basic YWRtaW46YWRtaW4=',
                        stack.url + '/api/executions'], capture_output=True,
                       timeout=120)
        data['pulse-api pool']['wrk_rss_kb'], \
            data['pulse-api pool']['wrk_pss_kb'] = peak_api.done()
        peak_pushd.done()

        # pushd with SIM simulated workers connected (through nginx).
        keys, _ = B.enroll(stack, 'fpsim', SIM)
        peak_pushd = Peak(lambda: [stack.pid('pushd')])
        load = subprocess.Popen([B.LOADWS, 'worker', '-K', keys, '-n',
                                 str(SIM), '-p', 'fpsim', '-H', '127.0.0.1',
                                 '-P', str(stack.port)],
                                stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL)
        try:
            B.wait(lambda: int(stack.sql(
                "SELECT COUNT(*) FROM workers WHERE status = 'online' AND "
                "name LIKE 'fpsim-%'").strip()) >= SIM, 180,
                'simulated workers', interval=0.25)
            time.sleep(2)
        finally:
            load.stdin.close()
            load.wait(30)
        data['pulse-pushd']['sim_rss_kb'], \
            data['pulse-pushd']['sim_pss_kb'] = peak_pushd.done()

        w = data['pulse-worker (idle)']
        a = data['pulse-api pool']
        p = data['pulse-pushd']
        rows = [
            ['pulse-worker', mb(w['idle_rss_kb']), mb(w['idle_pss_kb']),
             '5 commands: ' + mb(w['busy_rss_kb']), B.fmt(w['idle_cpu_pct'],
                                                         '%')],
            ['pulse-api pool (%d processes)' % len(stack.api_pids()),
             mb(a['idle_rss_kb']), mb(a['idle_pss_kb']),
             'wrk: ' + mb(a['wrk_rss_kb']), B.fmt(a['idle_cpu_pct'], '%')],
            ['pulse-pushd', mb(p['idle_rss_kb']), mb(p['idle_pss_kb']),
             '%d workers: %s' % (SIM, mb(p['sim_rss_kb'])),
             B.fmt(p['idle_cpu_pct'], '%')],
        ]
        for k in ('mariadbd', 'nginx'):
            rows.append([k, mb(data[k]['idle_rss_kb']),
                         mb(data[k]['idle_pss_kb']), '',
                         B.fmt(data[k]['idle_cpu_pct'], '%')])
        rows.append(['whole stack, idle', '', '', '', B.fmt(idle_cpu, '%')])
        res.table('Footprint (CPU: %% of one core, idle %d s)' % IDLE_S,
                  ['process', 'RSS idle', 'PSS idle', 'RSS under load',
                   'CPU idle'], rows, data)
        res.key('worker_idle_pss_kb', 'idle pulse-worker PSS '
                '(smaps_rollup)', w['idle_pss_kb'], 'KB', '<= 1024 KB',
                w['idle_pss_kb'] <= 1024,
                peer='RSS %s KB' % w['idle_rss_kb'])
        res.key('worker_idle_rss_kb', 'idle pulse-worker RSS',
                w['idle_rss_kb'], 'KB', None, None)
        res.figure('pulse-worker RSS, 5 commands running',
                   mb(w['busy_rss_kb']), '', '', None)
        both = max(a['idle_rss_kb'], a['wrk_rss_kb']) + \
            max(p['idle_rss_kb'], p['sim_rss_kb'])
        res.figure('pulse-api pool + pushd RSS, highest under load',
                   mb(both), 'Rundeck heap 4 GB', '< 64 MB', both < 64 * 1024)
        res.figure('idle stack CPU (polling), % of one core',
                   B.fmt(idle_cpu, '%'), '', '', None)
    finally:
        stack.stop()


if __name__ == '__main__':
    sys.exit(B.main('footprint', 'memory and idle CPU', run))
