"""A small websocket client (RFC 6455) for the PULSE tests, stdlib only.

It speaks to pulse-pushd either through nginx (host and port, as a browser
or a worker would) or straight to one of pushd's unix sockets:

    import wsclient
    ws = wsclient.connect('/ws', 'pulse-browser', auth=('admin', 'admin'),
                          headers={'Origin': 'http://127.0.0.1:8080'})
    hello = ws.recv_json(5)
    ws.send_json({'type': 'subscribe', 'execution_id': eid})
    ws.close()

    w = wsclient.connect('/worker', 'pulse-worker',
                         headers={'X-API-Key': key})

A refused handshake raises HandshakeRefused (its .status, .headers and
.body are nginx's or pushd's answer). A close from the server raises
Closed from recv_*() with .code and .reason; ws.close_code keeps them.
Pings are answered by recv_*() as they arrive. Frames the tests want
malformed on purpose can be built with send_frame().
"""

import base64
import hashlib
import json
import os
import select
import socket
import struct
import time
import urllib.parse

GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


class WSError(Exception):
    pass


class HandshakeRefused(WSError):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, status, headers, body):
        WSError.__init__(self, 'handshake refused: HTTP %d %s'
                         % (status, body[:200]))
        self.status = status
        self.headers = headers
        self.body = body


class Closed(WSError):
    """The server closed the websocket (or the connection dropped)."""

    def __init__(self, code, reason):
        WSError.__init__(self, 'closed: %s %s' % (code, reason))
        self.code = code
        self.reason = reason


def default_address():
    """Host and port of PULSE_URL (the stack's nginx)."""
    url = urllib.parse.urlsplit(os.environ.get('PULSE_URL',
                                               'http://127.0.0.1:8080'))
    return url.hostname or '127.0.0.1', url.port or 80


def connect(path, subprotocol=None, headers=None, unix_socket=None,
            host=None, port=None, auth=None, timeout=10.0):
    """Open a websocket and do the handshake; returns a WebSocket.

    path: the request path ('/ws', '/worker').
    subprotocol: the Sec-WebSocket-Protocol value, or None to send none.
    headers: extra request headers (dict); a 'Host' here replaces ours.
    unix_socket: a path to connect to instead of host/port.
    auth: (user, password) for the dev SSO stand-in (HTTP basic).
    """
    headers = dict(headers or {})
    if unix_socket is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(unix_socket)
        hostname = 'localhost'
    else:
        if host is None or port is None:
            dhost, dport = default_address()
            host = host or dhost
            port = port or dport
        sock = socket.create_connection((host, port), timeout=timeout)
        hostname = '%s:%d' % (host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ['GET %s HTTP/1.1' % path]
    names = {k.lower() for k in headers}
    if 'host' not in names:
        lines.append('Host: %s' % hostname)
    lines += ['Upgrade: websocket', 'Connection: Upgrade',
              'Sec-WebSocket-Key: %s' % key, 'Sec-WebSocket-Version: 13']
    if subprotocol is not None:
        lines.append('Sec-WebSocket-Protocol: %s' % subprotocol)
    if auth is not None:
        cred = base64.b64encode(('%s:%s' % auth).encode()).decode()
        lines.append('Authorization: Basic %s' % cred)
    for k, v in headers.items():
        lines.append('%s: %s' % (k, v))
    try:
        sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        status, rheaders, rest = _read_response(sock, timeout)
        if status != 101:
            body = _read_body(sock, rheaders, rest, timeout)
            raise HandshakeRefused(status, rheaders,
                                   body.decode('utf-8', 'replace'))
        want = base64.b64encode(hashlib.sha1(
            (key + GUID).encode()).digest()).decode()
        if rheaders.get('sec-websocket-accept') != want:
            raise WSError('bad Sec-WebSocket-Accept')
    except BaseException:
        sock.close()
        raise
    return WebSocket(sock, rest, rheaders.get('sec-websocket-protocol'))


def _read_response(sock, timeout):
    buf = b''
    deadline = time.monotonic() + timeout
    while b'\r\n\r\n' not in buf:
        if len(buf) > 65536:
            raise WSError('response headers too long')
        chunk = _recv_some(sock, deadline)
        if not chunk:
            raise WSError('connection closed during the handshake '
                          '(%d bytes)' % len(buf))
        buf += chunk
    head, rest = buf.split(b'\r\n\r\n', 1)
    lines = head.decode('iso-8859-1').split('\r\n')
    parts = lines[0].split(' ', 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise WSError('bad status line %r' % lines[0])
    headers = {}
    for line in lines[1:]:
        if ':' in line:
            k, v = line.split(':', 1)
            headers[k.strip().lower()] = v.strip()
    return int(parts[1]), headers, rest


def _read_body(sock, headers, body, timeout):
    """A refusal's body: `body` already read, up to Content-Length or
    the close."""
    deadline = time.monotonic() + timeout
    want = int(headers.get('content-length', '-1') or -1)
    try:
        while want < 0 or len(body) < want:
            chunk = _recv_some(sock, deadline)
            if not chunk:
                break
            body += chunk
    except (socket.timeout, TimeoutError, OSError):
        pass
    return body


def _recv_some(sock, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError('timed out')
    sock.settimeout(left)
    return sock.recv(65536)


class WebSocket:
    """One client websocket: frames out are masked, frames in are not.
    With server=True, the other end of one (a stand-in for pushd): frames
    out are not masked, frames in must be (RFC 6455 section 5.1)."""

    def __init__(self, sock, buffered=b'', subprotocol=None, server=False):
        self.server = server
        self.sock = sock
        self.buf = bytearray(buffered)
        self.subprotocol = subprotocol
        self.close_code = None
        self.close_reason = None
        self._fragments = None
        self._fragment_op = None

    # --- sending

    def send_frame(self, opcode, payload, fin=True, mask=None, rsv=0):
        """One raw frame; tests use it for fragments and bad frames."""
        if mask is None:
            mask = not self.server
        if isinstance(payload, str):
            payload = payload.encode()
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack('!BB', b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            head = struct.pack('!BBH', b0, (0x80 if mask else 0) | 126, n)
        else:
            head = struct.pack('!BBQ', b0, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            payload = _mask(payload, key)
            head += key
        self.sock.sendall(head + payload)

    def send_text(self, text, fragment=None):
        """A text message; fragment=N splits it into N-byte frames."""
        data = text.encode() if isinstance(text, str) else text
        if not fragment or len(data) <= fragment:
            self.send_frame(OP_TEXT, data)
            return
        pieces = [data[i:i + fragment] for i in range(0, len(data),
                                                      fragment)]
        for i, piece in enumerate(pieces):
            self.send_frame(OP_TEXT if i == 0 else OP_CONT, piece,
                            fin=(i == len(pieces) - 1))

    def send_json(self, obj, fragment=None):
        self.send_text(json.dumps(obj), fragment=fragment)

    def send_binary(self, data):
        self.send_frame(OP_BINARY, data)

    # --- receiving

    def recv_message(self, timeout=5.0):
        """(opcode, bytes) of the next whole message, None on timeout.

        Raises Closed when the server closes (after answering its close).
        """
        deadline = time.monotonic() + timeout
        while True:
            frame = self._read_frame(deadline)
            if frame is None:
                return None
            fin, opcode, payload = frame
            if opcode == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                code = struct.unpack('!H', payload[:2])[0] \
                    if len(payload) >= 2 else 1005
                reason = payload[2:].decode('utf-8', 'replace')
                self.close_code, self.close_reason = code, reason
                try:
                    self.send_frame(OP_CLOSE, payload[:2])
                except OSError:
                    pass
                self.sock.close()
                raise Closed(code, reason)
            if opcode in (OP_TEXT, OP_BINARY):
                self._fragments = [payload]
                self._fragment_op = opcode
            elif opcode == OP_CONT and self._fragments is not None:
                self._fragments.append(payload)
            else:
                raise WSError('unexpected opcode %d' % opcode)
            if fin:
                data = b''.join(self._fragments)
                op = self._fragment_op
                self._fragments = None
                return op, data

    def recv_json(self, timeout=5.0):
        """The next message parsed as JSON, or None on timeout."""
        got = self.recv_message(timeout)
        if got is None:
            return None
        return json.loads(got[1].decode('utf-8'))

    def recv_until(self, pred, timeout=10.0):
        """Messages (JSON) until pred(msg) is true: (match, all seen).

        match is None when the time ran out.
        """
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, seen
            msg = self.recv_json(left)
            if msg is None:
                return None, seen
            seen.append(msg)
            if pred(msg):
                return msg, seen

    def wait_closed(self, timeout=5.0):
        """Read until the server closes: (code, reason), None on timeout."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.recv_message(deadline - time.monotonic()) is None:
                    return None
        except Closed as e:
            return e.code, e.reason
        except (OSError, WSError) as e:
            # A reset (the peer closed with our data unread) is an
            # abnormal closure, 1006, as much as an EOF without a frame.
            if self.close_code is None:
                self.close_code, self.close_reason = 1006, str(e)
            return self.close_code, self.close_reason
        return None

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
            chunk = self.sock.recv(65536)
            if not chunk:
                self.close_code = self.close_code or 1006
                raise Closed(1006, 'connection dropped')
            self.buf += chunk
        return True

    def _read_frame(self, deadline):
        if not self._fill(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7f
        off = 2
        if n == 126:
            if not self._fill(4, deadline):
                return None
            n = struct.unpack('!H', bytes(self.buf[2:4]))[0]
            off = 4
        elif n == 127:
            if not self._fill(10, deadline):
                return None
            n = struct.unpack('!Q', bytes(self.buf[2:10]))[0]
            off = 10
        if bool(b1 & 0x80) != self.server:
            raise WSError('the %s masked a frame' % (
                'client never' if self.server else 'server'))
        key = None
        if self.server:
            if not self._fill(off + 4, deadline):
                return None
            key = bytes(self.buf[off:off + 4])
            off += 4
        # A frame that started arriving gets 30 s more to finish.
        if not self._fill(off + n, max(deadline, time.monotonic()) + 30):
            raise WSError('frame of %d bytes never completed' % n)
        payload = bytes(self.buf[off:off + n])
        del self.buf[:off + n]
        if key is not None:
            payload = _mask(payload, key)
        return bool(b0 & 0x80), b0 & 0x0f, payload

    # --- closing

    def close(self, code=1000, reason=''):
        """Send a close frame and drop the connection."""
        try:
            self.send_frame(OP_CLOSE, struct.pack('!H', code) +
                            reason.encode())
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def _mask(data, key):
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, 'big') ^
            int.from_bytes(k, 'big')).to_bytes(n, 'big') if n else b''
