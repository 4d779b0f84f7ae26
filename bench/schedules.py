#!/usr/bin/env python3
"""Schedules (issue 16): what 10,000 enabled schedules cost an idle pushd,
and how late a due fire starts its execution.

1. pushd's CPU over IDLE_S seconds from /proc (utime + stime), first with
   no schedules, then with 10,000 enabled ones (written by SQL, due in a
   year): the difference is what looking for due schedules costs.
   Target: under 1 % of one core.
2. Fire latency on the scheduler's test clock ($DIR/clock, which the dev
   stack gives pushd): FIRING of the schedules fire every minute; for each
   of MINUTES minutes the clock is set so that the minute begins one real
   second later, and each fire's latency is its execution's started_at
   (the database's real clock) minus the real instant its minute began.
   Target: p99 under 1 s.
"""

import math
import os
import sys
import time

import benchlib as B

N = 10000
FIRING = 50
IDLE_S = 10 if B.QUICK else 30
MINUTES = 3 if B.QUICK else 10


def pushd_cpu_pct(stack, seconds):
    pid = stack.pid('pushd')
    t0, c0 = time.monotonic(), B.cpu_ticks(pid)
    time.sleep(seconds)
    t1, c1 = time.monotonic(), B.cpu_ticks(pid)
    return 100.0 * (c1 - c0) / B.CLK_TCK / (t1 - t0)


def run(res):
    stack = B.Stack('schedules').start()
    clock = os.path.join(stack.dir, 'clock')
    try:
        wid = stack.create_workflow('bench schedules', [
            {'name': 'w', 'type': 'wait', 'duration': 0}])
        time.sleep(3)	# start-up settles
        base = pushd_cpu_pct(stack, IDLE_S)
        # 10,000 yearly schedules due in a year: enabled, indexed, idle.
        stack.sql(
            "INSERT INTO schedules (id, workflow_id, name, cron, timezone, "
            "enabled, next_run_at, created_by) SELECT UUID(), '%s', "
            "CONCAT('bench-', seq), '0 0 1 1 *', 'UTC', 1, "
            "NOW(3) + INTERVAL 1 YEAR, 'bench' FROM seq_1_to_%d" % (wid, N))
        n = int(stack.sql("SELECT COUNT(*) FROM schedules WHERE enabled = 1")
                .strip())
        if n != N:
            raise RuntimeError('%d schedules written, not %d' % (n, N))
        time.sleep(2)
        loaded = pushd_cpu_pct(stack, IDLE_S)
        spent = max(0.0, loaded - base)
        res.table('pushd idle CPU over %d s (%% of one core)' % IDLE_S,
                  ['schedules', 'pushd CPU'],
                  [['none', B.fmt(base, '%')],
                   ['%d enabled' % N, B.fmt(loaded, '%')]],
                  {'base_pct': base, 'loaded_pct': loaded})
        res.figure('idle pushd CPU spent on %d enabled schedules' % N,
                   B.fmt(spent, '%'), '', '< 1 % of a core', spent < 1.0)

        # FIRING of them every minute, from the next one on.
        offset = 0
        stack.sql("UPDATE schedules SET cron = '* * * * *', overlap = "
                  "'allow', next_run_at = NULL, enabled = 0 WHERE name IN "
                  "(%s)" % ','.join("'bench-%d'" % i
                                    for i in range(1, FIRING + 1)))
        lat = []
        for k in range(MINUTES):
            now = time.time()
            m = (int(now + offset) // 60 + 1) * 60
            # The minute begins at real time begin = ceil(now) + 1.
            begin = math.ceil(now) + 1
            offset = m - begin
            with open(clock + '.tmp', 'w') as f:
                f.write('%d\n' % offset)
            os.replace(clock + '.tmp', clock)
            if k == 0:
                stack.sql("UPDATE schedules SET enabled = 1, next_run_at = "
                          "FROM_UNIXTIME(%d) WHERE cron = '* * * * *'" % m)
            # No polling client on the 2 cores while the fires run.
            time.sleep(max(0.0, begin + 2.5 - time.time()))
            B.wait(lambda: int(stack.sql(
                "SELECT COUNT(*) FROM schedule_fires WHERE fire_time = "
                "FROM_UNIXTIME(%d) AND outcome = 'started'" % m).strip())
                >= FIRING, 30, 'the fires of minute %d' % (k + 1), 0.1)
            rows = stack.sql(
                "SELECT UNIX_TIMESTAMP(e.started_at) FROM schedule_fires f "
                "JOIN executions e ON e.id = f.execution_id WHERE "
                "f.fire_time = FROM_UNIXTIME(%d)" % m)
            lat += [float(x) - begin for x in rows.split()]
        p50, p99 = B.pct(lat, 50), B.pct(lat, 99)
        res.table('Fire latency: execution started_at minus the fire time '
                  '(%d fires, %d schedules x %d minutes)'
                  % (len(lat), FIRING, MINUTES),
                  ['p50', 'p99', 'max'],
                  [[B.fmt(p50 * 1000, ' ms'), B.fmt(p99 * 1000, ' ms'),
                    B.fmt(max(lat) * 1000, ' ms')]],
                  {'latencies_s': lat})
        res.figure('schedule fire latency p99 (%d fires)' % len(lat),
                   B.fmt(p99 * 1000, ' ms'), '', '< 1 s', p99 < 1.0)
        if os.path.exists(clock):
            os.remove(clock)
    finally:
        stack.stop()


if __name__ == '__main__':
    sys.exit(B.main('schedules', '10,000 schedules: idle CPU, fire latency',
                    run))
