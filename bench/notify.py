#!/usr/bin/env python3
"""Benchmark: notification delivery (issue 16). 1,000 messages are put in
the outbox at once (one INSERT ... SELECT, as 1,000 events committing
together would leave them) for a webhook channel whose receiver is a local
HTTP server that answers 200 at once; measured: deliveries per second from
the insert to the last one recorded delivered (target >= 200/s), and that
the receiver saw each delivery id once. pushd's delivery thread sends up to
NOTIFY_INFLIGHT_MAX at a time, signing each body (HMAC-SHA256).

Not in --quick: the figure needs the full 1,000."""

import sys
import time

import benchlib as B
from notifylib import Receiver   # tests/integration, on benchlib's path

N = 1000
TARGET = 200    # deliveries per second


def delivered(stack, cid):
    return int(stack.sql("SELECT COUNT(*) FROM notifications WHERE "
                         "channel_id = '%s' AND status = 'delivered'"
                         % cid).strip() or 0)


def run(res):
    sink = Receiver(lambda path: (200, 0, 'ok'))
    stack = B.Stack('notify').start()
    try:
        st, _, ch = stack.http.post('/api/channels', {
            'name': 'bench-sink', 'type': 'webhook',
            'url': sink.url('/hook')})
        if st != 201:
            raise RuntimeError('create channel: %s %s' % (st, ch))
        cid = ch['id']
        t0 = time.monotonic()
        stack.sql(
            "INSERT INTO notifications (channel_id, event, payload, "
            "delivery_id, expires_at) SELECT '%s', 'test', "
            "JSON_OBJECT('event', 'test', 'started_by', 'bench'), UUID(), "
            "NOW(3) + INTERVAL 1 DAY FROM seq_1_to_%d" % (cid, N))
        B.wait(lambda: delivered(stack, cid) >= N, 300,
               '%d notifications delivered' % N, interval=0.05)
        took = time.monotonic() - t0
        rate = N / took
        ids = {}
        for rec in sink.on('/hook'):
            d = rec['headers'].get('X-Pulse-Delivery')
            ids[d] = ids.get(d, 0) + 1
        twice = sum(1 for v in ids.values() if v > 1)
        if len(ids) != N:
            raise RuntimeError('the receiver saw %d delivery ids of %d'
                               % (len(ids), N))
        res.figure('%d notifications to a local webhook receiver' % N,
                   B.fmt(rate, '/s'), '', '>= %d/s' % TARGET,
                   rate >= TARGET)
        res.table('Notification delivery (signed webhook, local receiver)',
                  ['messages', 'time', 'rate', 'sent twice'],
                  [[str(N), B.fmt(took, 's'), B.fmt(rate, '/s'),
                    str(twice)]],
                  {'n': N, 'seconds': took, 'rate': rate, 'twice': twice})
    finally:
        stack.stop()
        sink.close()


if __name__ == '__main__':
    sys.exit(B.main('notify', 'notification delivery rate', run))
