"""mpptest.policy: the Postfix side of the policy protocol, for tests that talk to mppd's policy
server directly (without a Postfix)."""

import socket

from .env import LOOPBACK


def policy_request(port, client, instance, sender="sender@example.org",
                   recipient="user@example.net", timeout=10.0):
    """One policy request at the RCPT stage, as Postfix sends it, on a connection of its own.
    Returns the action value ("DUNNO", "550 5.7.1 ...", ...), or what was read when the reply
    is not an action (an empty string when mppd closed the connection)."""
    attrs = [("request", "smtpd_access_policy"), ("protocol_state", "RCPT"),
             ("protocol_name", "ESMTP"), ("client_address", client),
             ("client_name", "unknown"), ("helo_name", "mx.example.org"), ("sender", sender),
             ("recipient", recipient), ("recipient_count", "0"), ("queue_id", ""),
             ("instance", instance), ("size", "0")]
    data = "".join("%s=%s\n" % kv for kv in attrs) + "\n"
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        s.sendall(data.encode())
        reply = b""
        while not reply.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    text = reply.decode(errors="replace").strip()
    return text[len("action="):] if text.startswith("action=") else text
