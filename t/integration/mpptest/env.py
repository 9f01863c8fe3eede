"""mpptest.env: the environment of a test run: where the build and the source trees are
(MPP_TOP_BUILDDIR / MPP_TOP_SRCDIR, set by `make check`), the switches read from the environment
(MPP_REQUIRE_INTEGRATION, MPP_KEEP_TMP), the loopback address, root, and finding installed tools.
"""

import os
import re
import shutil


REQUIRE = os.environ.get("MPP_REQUIRE_INTEGRATION") == "1"
KEEP_TMP = os.environ.get("MPP_KEEP_TMP") == "1"
LOOPBACK = "127.0.0.1"

_HERE = os.path.dirname(os.path.abspath(__file__))   # <top_srcdir>/t/integration/mpptest
TOP_SRCDIR = (os.environ.get("MPP_TOP_SRCDIR")
              or os.path.normpath(os.path.join(_HERE, "..", "..", "..")))
TOP_BUILDDIR = os.environ.get("MPP_TOP_BUILDDIR") or TOP_SRCDIR


def build_path(*parts):
    """A file of the build tree (binaries: build_path("mppd"))."""
    return os.path.join(TOP_BUILDDIR, *parts)


def src_path(*parts):
    """A file of the source tree (sample config: src_path("etc", "mppd.conf.xml"))."""
    return os.path.join(TOP_SRCDIR, *parts)


def package_version():
    """PACKAGE_VERSION from the build's config.h (None when not found)."""
    try:
        with open(build_path("config.h")) as f:
            m = re.search(r'^#define PACKAGE_VERSION "([^"]*)"', f.read(), re.M)
            return m.group(1) if m else None
    except OSError:
        return None


def is_root():
    return os.geteuid() == 0


def find_tool(name, extra_dirs=("/usr/sbin", "/sbin", "/usr/lib/postfix/sbin")):
    """Absolute path of a program from PATH or the usual sbin dirs, or None."""
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(extra_dirs)
    return shutil.which(name, path=path)
