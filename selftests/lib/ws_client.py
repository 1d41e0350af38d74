"""A minimal blocking WebSocket client (RFC 6455), stdlib only, for floe-hub's tests and bench.

Why not python3-websockets: its asyncio client reads ahead and pauses on its own schedule; a
test of a slow client needs to decide exactly when the socket is read. This one reads only when
asked, and its receive buffer can be made small (rcvbuf) so that a client that stops reading
fills up quickly.
"""
import base64
import os
import socket
import struct
import urllib.parse


class HandshakeError(Exception):
    def __init__(self, status, head):
        super().__init__(f"handshake refused: {status}")
        self.status = status
        self.head = head


class WSClient:
    def __init__(self, url, headers=None, timeout=30, rcvbuf=None):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((u.hostname, u.port or 80))
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        lines = [f"GET {path} HTTP/1.1", f"Host: {u.hostname}:{u.port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        self.close_code, self.close_reason = None, ""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise HandshakeError(0, self.buf)
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head  # the handshake's answer (its headers)
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            raise HandshakeError(status, head)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """The next text message (str); None when the server closed. Control frames from the
        server (ping) are answered."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            fin, op, ln = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if b1 & 0x80:
                raise ValueError("a server frame is masked")
            if ln == 126:
                ln = struct.unpack("!H", self._read(2))[0]
            elif ln == 127:
                ln = struct.unpack("!Q", self._read(8))[0]
            data = self._read(ln)
            if op == 8:
                # Close: a status code, then the reason (RFC 6455 5.5.1).
                self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                self.close_reason = data[2:].decode(errors="replace")
                return None
            if op == 9:
                self._send(0xA, data)
                continue
            if op == 0xA:
                continue
            parts.append(data)
            if fin:
                return b"".join(parts).decode()

    def _send(self, op, data):
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | op])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def close(self):
        try:
            self._send(8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
