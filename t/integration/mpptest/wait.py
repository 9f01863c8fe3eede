"""mpptest.wait: waiting for a condition with a deadline (wait_for and its forms for ports, files,
processes), loopback port probes, reading files that may not exist yet, and LogWatch, which
follows a growing (and rotating) log file.
"""

import os
import re
import socket
import subprocess
import time

from .env import LOOPBACK


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Calls predicate() until it returns a true value or `timeout` seconds pass.
    Returns that value, or None on timeout (the predicate is tried one last time at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_for_port(port, host=LOOPBACK, timeout=10.0):
    """True once a TCP connect to host:port succeeds within `timeout`."""
    return bool(wait_for(lambda: port_open(host, port), timeout))


def wait_for_port_closed(port, host=LOOPBACK, timeout=10.0):
    return bool(wait_for(lambda: not port_open(host, port), timeout))


def wait_for_file(path, timeout=10.0, nonempty=False):
    def check():
        try:
            st = os.stat(path)
        except OSError:
            return False
        return st.st_size > 0 if nonempty else True
    return bool(wait_for(check, timeout))


def wait_for_gone(path, timeout=10.0):
    return bool(wait_for(lambda: not os.path.lexists(path), timeout))


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not reaped by its parent) counts as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for_exit(proc, timeout=10.0):
    """Exit status of a subprocess.Popen once it ends within `timeout`, else None."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def read_file(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return b"" if "b" in mode else ""


class LogWatch:
    """Follows a growing text file. mark() remembers the current end; wait(regex) looks for the
    regex in what was written after the mark (or from the start) until a deadline.
    Rotation is followed: when the file at `path` is no longer the one marked, the rest of the
    marked file (found as path.1) and the whole new file are searched."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.inode = None

    def _stat(self, path):
        try:
            st = os.stat(path)
            return st.st_ino, st.st_size
        except OSError:
            return None, 0

    def mark(self):
        self.inode, self.offset = self._stat(self.path)
        return self.offset

    @staticmethod
    def _read(path, offset=0):
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def text(self, since_mark=True):
        if not since_mark:
            return self._read(self.path)
        inode, _ = self._stat(self.path)
        if self.inode is None or inode == self.inode:
            return self._read(self.path, self.offset if self.inode is not None else 0)
        rotated = self.path + ".1"
        old = self._read(rotated, self.offset) if self._stat(rotated)[0] == self.inode else ""
        return old + self._read(self.path)

    def search(self, regex, since_mark=True):
        return re.search(regex, self.text(since_mark), re.M)

    def wait(self, regex, timeout=10.0, since_mark=True):
        """The re.Match of `regex` (multiline) once it appears, else None."""
        return wait_for(lambda: self.search(regex, since_mark), timeout)
