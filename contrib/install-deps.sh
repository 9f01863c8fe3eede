#!/bin/sh
# contrib/install-deps.sh [--tests]: installs, with apt-get, what building mpp needs on Debian 12
# (and Ubuntu): compiler, autotools, pkg-config and the -dev packages of the libraries.
# --tests adds what the integration tests run: postfix, swaks, miltertest, unbound.
#
# Only missing packages are installed. No service is started while installing: a temporary
# /usr/sbin/policy-rc.d answers "101" (it is removed again only if this script created it), and
# Postfix is preseeded with "No configuration", so the machine's own Postfix stays unconfigured
# and stopped (the tests run private instances of their own). Must run as root.
set -eu

build_pkgs="build-essential autoconf automake pkg-config python3
    libmilter-dev libevent-dev libmariadb-dev libpcre2-dev libtinyxml2-dev libgmime-3.0-dev
    libcurl4-openssl-dev libgtest-dev"
test_pkgs="postfix swaks miltertest unbound spamassassin spamd clamav-daemon
    mariadb-server mariadb-client nginx-light curl"

want=$build_pkgs
case "${1:-}" in
    --tests) want="$want $test_pkgs" ;;
    "") ;;
    *) echo "usage: $0 [--tests]" >&2; exit 64 ;;
esac

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=""
for p in $want; do
    case $p in
        # Either libcurl flavour will do; don't replace one that is there.
        libcurl4-openssl-dev) installed libcurl4-openssl-dev || installed libcurl4-gnutls-dev ||
            missing="$missing $p" ;;
        *) installed "$p" || missing="$missing $p" ;;
    esac
done
if [ -z "$missing" ]; then
    echo "install-deps: everything needed is installed"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: run as root to install them" >&2
    exit 1
fi

echo "install-deps: installing$missing"
created_policy=""
cleanup() {
    if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# Installed by mpp contrib/install-deps.sh while it runs: start no services.\nexit 101\n' \
        >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=yes
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -q -y --no-install-recommends $missing
