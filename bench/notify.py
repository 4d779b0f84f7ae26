#!/usr/bin/env python3
"""Benchmark: notification delivery (issue 16). 1,000 messages are put in
the outbox at once (one INSERT ... SELECT, as 1,000 events committing
together would leave them) for a webhook channel whose receiver is a local
HTTP server that answers 200 at once; measured: deliveries per second from
the insert to the last one recorded delivered (target >= 200/s), and that
the receiver saw each delivery id once. pushd's delivery thread sends up to
NOTIFY_INFLIGHT_MAX at a time, signing each body (HMAC-SHA256).

Not in --quick: the figure needs the full 1,000."""

import http.server
import sys
import threading
import time

import benchlib as B

N = 1000
TARGET = 200    # deliveries per second


class Sink:
    def __init__(self):
        self.ids = {}
        self.lock = threading.Lock()
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = min(int(self.headers.get('Content-Length') or 0),
                        1 << 20)
                self.rfile.read(n)
                d = self.headers.get('X-Pulse-Delivery')
                with owner.lock:
                    owner.ids[d] = owner.ids.get(d, 0) + 1
                self.send_response(200)
                self.send_header('Content-Length', '2')
                self.end_headers()
                self.wfile.write(b'ok')

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()


def delivered(stack, cid):
    return int(stack.sql("SELECT COUNT(*) FROM notifications WHERE "
                         "channel_id = '%s' AND status = 'delivered'"
                         % cid).strip() or 0)


def run(res):
    sink = Sink()
    stack = B.Stack('notify').start()
    try:
        st, _, ch = stack.http.post('/api/channels', {
            'name': 'bench-sink', 'type': 'webhook',
            'url': 'http://127.0.0.1:%d/hook' % sink.port})
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
        twice = sum(1 for v in sink.ids.values() if v > 1)
        if len(sink.ids) != N:
            raise RuntimeError('the receiver saw %d delivery ids of %d'
                               % (len(sink.ids), N))
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
        sink.server.shutdown()


if __name__ == '__main__':
    sys.exit(B.main('notify', 'notification delivery rate', run))
