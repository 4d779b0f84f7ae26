#!/usr/bin/env python3
"""common/cron.c against an independent implementation (TAP).

The next 1,000 fire times of 50 cron expressions in several zones, from
tests/unit/cron-next (the C code), must equal those of a brute-force walk
written here with Python's zoneinfo and nothing shared with the C code:

  Walk the UTC line a minute at a time, keeping the latest local wall time
  seen so far (the high-water mark). A minute whose wall time is past the
  mark fires if any wall minute in (mark, wall] matches the expression;
  then the mark moves up to it. So a normal minute fires when it matches;
  a jump forward (a skipped local hour) fires once, at its end, if any
  skipped minute matched; a jump back (a repeated hour) fires nothing
  until the wall time passes the mark again: a repeat fires only its
  first occurrence.

To be fast, the walk jumps over stretches in which no wall minute can
match: to 4 hours before the next wall hour whose date and hour match
(a repeat takes the wall time at most 3 hours back); an hour when no
(date, hour) in it matches; ten minutes when no minute does; the last two
only when the offset is the same at both ends, so that no change of
offset lies in between. The day fields are read as Vixie cron reads them
(day_ok): a field starting with '*' restricts nothing; when neither
does, a day matching either one fires. Runs 2 at a time: 150 runs take
about 25 s on 2 busy cores.

Usage: cron_oracle.py [top_srcdir]. The binary: $CRON_NEXT, else
$PULSE_BIN/tests/unit/cron-next, else build/test or build/dev under
top_srcdir. Run by ./pulse-dev test in the unit stage.
"""
import multiprocessing
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

COUNT = 1000
ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe']
SEARCH_DAYS = 2922  # none within 8 years: the C code gives up there

EXPRESSIONS = [
    '* * * * *',
    '*/7 * * * *',
    '2/5 * * * *',
    '59 * * * *',
    '0 * * * *',
    '@hourly',
    '30 2 * * *',
    '0 2 * * *',
    '59 1 * * *',
    '30 1 * * *',
    '15 2 * * *',
    '45 1 * * *',
    '0 3 * * *',
    '0,30 2,3 * * *',
    '*/15 1-3 * * *',
    '0-59/20 2 * * *',
    '1-10 2 * * *',
    '0 1-3 * * *',
    '23 0-23/2 * * *',
    '0 */6 * * *',
    '@daily',
    '@weekly',
    '@monthly',
    '@yearly',
    '0 0 29 2 *',
    '0 0 30 2 *',
    '0 0 31 * *',
    '0 0 1,31 * *',
    '0 0 28-31 * *',
    '59 23 31 12 *',
    '0 12 13 * fri',
    '0 6 29 2 1',
    '0 0 */2 * mon',
    '0 9 * * mon-fri',
    '0 9 * * 1-5/2',
    '*/10 9-17 * * 1-5',
    '30 8 1,15 * *',
    '5 4 * * sun',
    '0 0 * * 7',
    '0 0 * * fri-sun',
    '0 5 * * 6,0',
    '0 0,12 1 */2 *',
    '0 4 8-14 * *',
    '0 0 1 jan,jul *',
    '*/5 0-4 * mar,oct,nov,apr sun',
    '30 0 * 3,10 0',
    '0 2 * 3 sun',
    '0 12 * 2 *',
    '1 2 3 4 5',
    '*/20 2 * MAR-Apr,Oct-Nov *',
]

MACROS = {'@hourly': '0 * * * *', '@daily': '0 0 * * *',
          '@midnight': '0 0 * * *', '@weekly': '0 0 * * 0',
          '@monthly': '0 0 1 * *', '@yearly': '0 0 1 1 *',
          '@annually': '0 0 1 1 *'}
NAMES = {3: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep',
             'oct', 'nov', 'dec'],
         4: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']}
BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


class Cron:
    """The expression as five sets, read the plain way."""

    def __init__(self, expr):
        expr = MACROS.get(expr.strip().lower(), expr)
        fields = expr.split()
        assert len(fields) == 5, expr
        self.sets = [self.field(i, f) for i, f in enumerate(fields)]
        if 7 in self.sets[4]:
            self.sets[4] = (self.sets[4] - {7}) | {0}
        self.dom_star = fields[2].startswith('*')
        self.dow_star = fields[4].startswith('*')

    @staticmethod
    def value(i, text):
        if text.isdigit():
            return int(text)
        return NAMES[i].index(text.lower()) + BOUNDS[i][0]

    def field(self, i, text):
        lo_b, hi_b = BOUNDS[i]
        out = set()
        for part in text.split(','):
            rng, _, step = part.partition('/')
            step = int(step) if step else 1
            if rng == '*':
                lo, hi = lo_b, hi_b
            elif '-' in rng:
                a, b = rng.split('-')
                lo, hi = self.value(i, a), self.value(i, b)
                if i == 4 and hi == 0 and lo > 0:
                    hi = 7
            else:
                lo = self.value(i, rng)
                hi = hi_b if step > 1 or '/' in part else lo
            out.update(range(lo, hi + 1, step))
        return out

    def day_ok(self, d):
        """d: a date. Vixie cron: a day field starting with '*' does not
        restrict; when neither does, a day matching either fires."""
        if d.month not in self.sets[3]:
            return False
        dom = d.day in self.sets[2]
        dow = (d.weekday() + 1) % 7 in self.sets[4]
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def minute_ok(self, w):
        """w: wall seconds (a naive local time as seconds since 1970)."""
        t = EPOCH + timedelta(seconds=w)
        return (t.minute in self.sets[0] and t.hour in self.sets[1] and
                self.day_ok(t.date()))

    def hour_may(self, lo, hi):
        """Could a wall minute in (lo, hi] match, looking at hours only?"""
        h = (lo + 60) // 3600 * 3600
        while h <= hi:
            t = EPOCH + timedelta(seconds=h)
            if t.hour in self.sets[1] and self.day_ok(t.date()):
                return True
            h += 3600
        return False

    def next_hour(self, mark, limit):
        """The first wall hour (as wall seconds) holding a minute past mark
        whose date and hour match; None past date limit."""
        h = (mark + 60) // 3600 * 3600
        while True:
            t = EPOCH + timedelta(seconds=h)
            if not self.day_ok(t.date()):
                d = self.next_day(t.date() + timedelta(days=1), limit)
                if d is None:
                    return None
                h = int((datetime(d.year, d.month, d.day) - EPOCH)
                        .total_seconds())
                continue
            if t.date() > limit:
                return None
            if t.hour in self.sets[1]:
                return h
            h += 3600

    def next_day(self, d, limit):
        """The first date >= d whose day fields match, or None past limit."""
        while d <= limit:
            if d.month not in self.sets[3]:
                d = (d.replace(day=1) + timedelta(days=32)).replace(day=1)
                continue
            if self.day_ok(d):
                return d
            d += timedelta(days=1)
        return None


EPOCH = datetime(1970, 1, 1)


def walk(expr, zone, after, count):
    """The oracle: the next `count` fire times after `after`."""
    cron = Cron(expr)
    tz = ZoneInfo(zone)

    def wall(u):
        return u + int(datetime.fromtimestamp(u, tz).utcoffset()
                       .total_seconds())

    u = after // 60 * 60
    # The mark: the latest wall time up to now (a repeat may be under way).
    mark = max(wall(u - k * 60) for k in range(0, 181))
    out = []
    give_up = h = None
    while len(out) < count:
        if give_up is None:
            h = None
            last = out[-1] if out else after
            start = EPOCH + timedelta(seconds=wall(last))
            give_up = start.date() + timedelta(days=SEARCH_DAYS)
        # Far ahead: to 4 hours before the first wall hour past the mark
        # whose date and hour match. No wall minute before that hour can
        # match, and a repeat takes the wall time at most 3 hours past
        # where the jump lands.
        # (Still the answer while the mark stays before that hour.)
        if h is None or (mark + 60) // 3600 * 3600 > h:
            h = cron.next_hour(mark, give_up)
            if h is None:
                break
        target = h - (wall(u) - u) - 4 * 3600
        target = h - (wall(target) - target) - 4 * 3600  # its own offset
        if target - u >= 3600 and wall(target) + 3 * 3600 < h:
            mark = max(mark, wall(target))
            u = target
            continue
        # An hour, then ten minutes, when the offset is the same at both
        # ends (no change of offset between them: the wall time only went
        # up) and no wall minute in between can match.
        w0 = wall(u)
        w1 = wall(u + 3600)
        if w1 - w0 == 3600 and not cron.hour_may(mark, w1):
            mark = max(mark, w1)
            u += 3600
            continue
        w1 = wall(u + 600)
        if w1 - w0 == 600 and not any(
                cron.minute_ok(m) for m in
                range(mark // 60 * 60 + 60, w1 + 1, 60)):
            mark = max(mark, w1)
            u += 600
            continue
        # A minute.
        u += 60
        w = wall(u)
        if w > mark:
            m = mark // 60 * 60 + 60
            while m <= w:
                if cron.minute_ok(m):
                    out.append(u)
                    give_up = None
                    break
                m += 60
            mark = w
    return out


def transitions(zone, year):
    """The instants a zone's offset changes in a year (a 30-minute scan)."""
    tz = ZoneInfo(zone)
    t = int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=timezone.utc).timestamp())
    prev = None
    found = []
    while t < end:
        off = datetime.fromtimestamp(t, tz).utcoffset()
        if prev is not None and off != prev:
            found.append(t)
        prev = off
        t += 1800
    return found


def find_binary(top):
    cands = [os.environ.get('CRON_NEXT', '')]
    if os.environ.get('PULSE_BIN'):
        cands.append(os.path.join(os.environ['PULSE_BIN'],
                                  'tests/unit/cron-next'))
    cands += [os.path.join(top, 'build', b, 'tests/unit/cron-next')
              for b in ('test', 'dev')]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    return None


def local(zone, u):
    return datetime.fromtimestamp(u, ZoneInfo(zone)).isoformat()


def one(job):
    binary, expr, zone, after = job
    t0 = time.monotonic()
    res = subprocess.run([binary, expr, zone, str(after), str(COUNT)],
                         capture_output=True, text=True, timeout=120)
    got = [int(line.split()[0]) for line in res.stdout.splitlines()]
    want = walk(expr, zone, after, COUNT)
    return (expr, zone, after, res.returncode, res.stderr.strip(), got,
            want, time.monotonic() - t0)


def main():
    top = (sys.argv[1] if len(sys.argv) > 1 else
           os.environ.get('top_srcdir') or
           os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        '..', '..'))
    binary = find_binary(top)
    if binary is None:
        print('Bail out! tests/unit/cron-next is not built (make check '
              'TESTS=, or set CRON_NEXT)')
        return 1
    # Start each run 6 hours before a change of offset, spring or fall,
    # from a zone's table (2026) or from its POSIX footer (2099, 2100), so
    # that even every-minute expressions cross one; a third of them at a
    # time that is not a whole minute.
    starts = {z: transitions(z, 2026) + transitions(z, 2100) for z in ZONES}
    jobs = []
    for i, expr in enumerate(EXPRESSIONS):
        for k, zone in enumerate(ZONES):
            tr = starts[zone]
            after = (tr[(i + k) % len(tr)] - 6 * 3600 +
                     (17 if i % 3 == 0 else 0))
            jobs.append((binary, expr, zone, after))
    print('1..%d' % len(jobs))
    t0 = time.monotonic()
    failed = 0
    with multiprocessing.Pool(min(2, os.cpu_count() or 1)) as pool:
        for n, r in enumerate(pool.imap(one, jobs), 1):
            expr, zone, after, rc, err, got, want, secs = r
            what = '"%s" in %s after %s: %d fire times' % (
                expr, zone, local(zone, after), len(want))
            if rc == 0 and got == want:
                print('ok %d - %s agree (%.1f s)' % (n, what, secs))
                continue
            failed += 1
            print('not ok %d - %s' % (n, what))
            if rc != 0:
                print('#   cron-next exited %d: %s' % (rc, err))
            for i in range(max(len(got), len(want))):
                g = got[i] if i < len(got) else None
                w = want[i] if i < len(want) else None
                if g != w:
                    print('#   time %d: C %s, oracle %s' % (
                        i + 1, g and local(zone, g), w and local(zone, w)))
                    break
    print('# %d runs in %.1f s' % (len(jobs), time.monotonic() - t0))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
