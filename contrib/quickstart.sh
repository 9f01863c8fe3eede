#!/bin/sh
# contrib/quickstart.sh: try mpp on a Debian 12 machine, as root, from the source tree.
#
# Installs what building needs (contrib/install-deps.sh), builds in _build/, creates the
# system user mpp if missing and the directories named in etc/mppd.conf.xml, prints the lines
# to add to Postfix's main.cf, and runs mppd in the foreground (-f: the log also goes to the
# terminal) with the sample configuration: milter on 127.0.0.1:10025, control socket
# /run/mppd/control.sock. Stop it with Ctrl-C (or `_build/mppctl -c etc/mppd.conf.xml stop`).
# Nothing is installed outside the tree except packages, the user and those directories.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
conf=$top/etc/mppd.conf.xml

if [ "$(id -u)" != 0 ]; then
    echo "quickstart: run as root (it installs packages, creates a user, binds as root and" >&2
    echo "then drops to the mpp user)" >&2
    exit 1
fi

contrib/install-deps.sh
[ -x configure ] || ./bootstrap
# The paths of a real installation, so that defaults (control socket /run/mppd/control.sock,
# state /var/lib/mppd) are those the documentation names.
paths="--sysconfdir=/etc --localstatedir=/var --runstatedir=/run"
if [ -f _build/config.status ] && ! _build/config.status --config | grep -q -- "--runstatedir=/run"; then
    rm -rf _build    # built with other paths (they are compiled in): start afresh
fi
mkdir -p _build
cd _build
# shellcheck disable=SC2086
[ -f Makefile ] || ../configure $paths
make -j"$(nproc)"

if ! getent passwd mpp >/dev/null; then
    echo "quickstart: creating system user mpp"
    useradd --system --user-group --home-dir /var/lib/mppd --no-create-home \
        --shell /usr/sbin/nologin mpp
fi

# Directories the sample config names (state, pidfile, control socket, log file, spool),
# owned by mpp: mppd writes there after dropping privileges.
dirs=$(python3 - "$conf" <<'PY'
import os, sys, xml.etree.ElementTree as ET
dirs = set()
for e in ET.parse(sys.argv[1]).iter():
    for attr, kind in (("state-dir", "dir"), ("spool", "dir"), ("pidfile", "file"),
                       ("file", "file"), ("socket", "file")):
        v = e.get(attr, "")
        v = v[len("unix:"):] if v.startswith("unix:") else v
        if v.startswith("/") and "%" not in v:
            d = v if kind == "dir" else os.path.dirname(v)
            if not os.path.isdir(d):
                dirs.add(d)
for d in sorted(dirs):
    print(d)
PY
)
for dir in $dirs; do
    install -d -o mpp -g mpp -m 0755 "$dir"
done

./mppd -t -c "$conf"

cat <<'EOF'

== Postfix: add to /etc/postfix/main.cf, then `postfix reload` ==
smtpd_milters = inet:127.0.0.1:10025
non_smtpd_milters = $smtpd_milters
milter_default_action = tempfail
milter_protocol = 6
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service inet:127.0.0.1:10031
smtpd_end_of_data_restrictions = check_policy_service inet:127.0.0.1:10031
smtpd_policy_service_default_action = DUNNO

== Sendmail: add to sendmail.mc ==
INPUT_MAIL_FILTER(`mpp', `S=inet:10025@127.0.0.1, F=T, T=S:30s;R:2m;E:5m')

== mppd is starting in the foreground; in another terminal: ==
_build/mppctl -c etc/mppd.conf.xml status

EOF
exec ./mppd -f -c "$conf"
