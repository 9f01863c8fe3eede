"""mpptest.milterclient: MilterClient, the MTA side of the milter protocol (version 6), enough to
drive a milter through a whole message without an MTA; its protocol flags and MilterError.
"""

import socket
import struct


SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NOMAIL, SMFIP_NORCPT = 0x1, 0x2, 0x4, 0x8
SMFIP_NOBODY, SMFIP_NOHDRS, SMFIP_NOEOH, SMFIP_NR_HDR = 0x10, 0x20, 0x40, 0x80
SMFIP_NOUNKNOWN, SMFIP_NODATA = 0x100, 0x200
SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
SMFIP_NR_DATA, SMFIP_NR_EOH, SMFIP_NR_BODY = 0x10000, 0x40000, 0x80000
_FINAL_REPLIES = set(b"cartdy")   # continue, accept, reject, tempfail, discard, reply code


class MilterError(Exception):
    pass


class MilterClient:
    """Speaks milter protocol 6 as an MTA would. Each step returns the milter's final reply as
    (command letter, data), or None when the milter asked not to see or not to answer that step;
    modification requests at end of message are collected in .modifications."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        # Macro packets and commands are separate writes: without this, Nagle holds the command
        # until the milter's delayed ACK (40 ms per step).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.protocol = 0
        self.actions = 0
        self.macro_lists = {}   # stage (SMFIM_* number) -> macro names the milter asked for
        self.modifications = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise MilterError("milter closed the connection")
            buf += chunk
        return buf

    def _recv(self):
        (length,) = struct.unpack(">I", self._recv_exact(4))
        if length < 1 or length > (1 << 24):
            raise MilterError("bad packet length %d" % length)
        body = self._recv_exact(length)
        return body[:1], body[1:]

    def _reply(self):
        while True:
            cmd, data = self._recv()
            if cmd[0] in _FINAL_REPLIES:
                return cmd.decode(), data
            if cmd == b"p":       # progress: keep waiting
                continue
            self.modifications.append((cmd.decode(), data))

    def _step(self, cmd, data, skip_flag, noreply_flag):
        if skip_flag and self.protocol & skip_flag:
            return None
        self._send(cmd, data)
        if noreply_flag and self.protocol & noreply_flag:
            return None
        return self._reply()

    def macros(self, for_cmd, pairs):
        data = for_cmd
        for k, v in pairs.items():
            data += k.encode() + b"\0" + v.encode() + b"\0"
        self._send(b"D", data)

    def negotiate(self, version=6, actions=0x1FF, protocol=0x1FFFFF):
        self._send(b"O", struct.pack(">III", version, actions, protocol))
        cmd, data = self._recv()
        if cmd != b"O" or len(data) < 12:
            raise MilterError("bad option negotiation reply %r %r" % (cmd, data[:32]))
        version, self.actions, self.protocol = struct.unpack(">III", data[:12])
        rest = data[12:]
        while len(rest) >= 5:   # smfi_setsymlist: (stage, "names\0")...
            (stage,) = struct.unpack(">I", rest[:4])
            end = rest.find(b"\0", 4)
            if end < 0:
                raise MilterError("bad macro list in option negotiation %r" % rest[:64])
            self.macro_lists[stage] = rest[4:end].decode()
            rest = rest[end + 1:]
        return version, self.actions, self.protocol

    def connect(self, hostname, addr, port=25):
        self.macros(b"C", {"j": "mx.mpp-test.example", "{daemon_name}": "mpptest", "v": "mpptest"})
        data = hostname.encode() + b"\0" + b"4" + struct.pack(">H", port) + addr.encode() + b"\0"
        return self._step(b"C", data, SMFIP_NOCONNECT, SMFIP_NR_CONN)

    def helo(self, name):
        return self._step(b"H", name.encode() + b"\0", SMFIP_NOHELO, SMFIP_NR_HELO)

    def mail(self, sender, queue_id):
        self.macros(b"M", {"i": queue_id, "{mail_addr}": sender})
        return self._step(b"M", b"<" + sender.encode() + b">\0", SMFIP_NOMAIL, SMFIP_NR_MAIL)

    def rcpt(self, rcpt, queue_id):
        self.macros(b"R", {"i": queue_id, "{rcpt_addr}": rcpt})
        return self._step(b"R", b"<" + rcpt.encode() + b">\0", SMFIP_NORCPT, SMFIP_NR_RCPT)

    def data(self, queue_id):
        self.macros(b"T", {"i": queue_id})
        return self._step(b"T", b"", SMFIP_NODATA, SMFIP_NR_DATA)

    def header(self, name, value):
        return self._step(b"L", name.encode() + b"\0" + value.encode() + b"\0", SMFIP_NOHDRS, SMFIP_NR_HDR)

    def eoh(self, queue_id):
        self.macros(b"N", {"i": queue_id})
        return self._step(b"N", b"", SMFIP_NOEOH, SMFIP_NR_EOH)

    def body(self, chunk):
        return self._step(b"B", chunk, SMFIP_NOBODY, SMFIP_NR_BODY)

    def eom(self, queue_id):
        self.macros(b"E", {"i": queue_id})
        self._send(b"E")
        return self._reply()

    def abort(self):
        """SMFIC_ABORT: the SMTP transaction ends without a message (RSET, or QUIT after MAIL);
        the milter sends no reply."""
        self._send(b"A")

    def quit(self):
        try:
            self._send(b"Q")
        except OSError:
            pass
        self.close()

    def message(self, client_name, client_addr, sender, rcpts, headers, body, queue_id):
        """A whole SMTP transaction; returns the list of (step, reply) pairs."""
        steps = [("negotiate", self.negotiate()),
                 ("connect", self.connect(client_name, client_addr)),
                 ("helo", self.helo(client_name)),
                 ("mail", self.mail(sender, queue_id))]
        for r in rcpts:
            steps.append(("rcpt", self.rcpt(r, queue_id)))
        steps.append(("data", self.data(queue_id)))
        for name, value in headers:
            steps.append(("header", self.header(name, value)))
        steps.append(("eoh", self.eoh(queue_id)))
        if body:
            steps.append(("body", self.body(body)))
        steps.append(("eom", self.eom(queue_id)))
        self.quit()
        return steps
