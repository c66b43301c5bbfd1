#!/usr/bin/env bash
# install-servers.sh -- install the real POP3 servers of the lab (idempotent).
#
#   .ci/install-servers.sh [SERVER...]     default: dovecot
#
# Servers: dovecot (Debian's dovecot-core + dovecot-pop3d).
# Runs as root.  When every package a server needs is installed already, it
# does nothing and needs no network or root (so CI can call it every run);
# otherwise it runs `apt-get update` once and installs what is missing.
#
# Adding a server: give it a packages_NAME function that prints its apt
# packages (and, for the ones that conflict with dovecot-pop3d through the
# virtual package pop3-server, an install_NAME function that unpacks them
# instead, as /work/shared/lab/install-extra.sh does), then list it in SERVERS.
set -euo pipefail

PROG=${0##*/}
SERVERS="dovecot"

die() { echo "$PROG: error: $*" >&2; exit 1; }

packages_dovecot() { echo dovecot-core dovecot-pop3d; }

installed() { # $1=package: true if dpkg has it fully installed
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

# Package scripts would start the system-wide daemon (on ports 110/995) on a
# machine with an init system; the lab starts its own instances instead.  A
# policy-rc.d that answers 101 ("action forbidden") stops that, and is removed
# again afterwards (only if this script made it).
POLICY=/usr/sbin/policy-rc.d
made_policy=0
drop_policy() { if (( made_policy )); then rm -f -- "$POLICY"; fi; }

apt_install() { # packages...
    local i
    [[ $(id -u) == 0 ]] || die "must run as root to install: $*"
    command -v apt-get >/dev/null || die "apt-get not found (the lab needs Debian or Ubuntu)"
    export DEBIAN_FRONTEND=noninteractive
    if [[ ! -e $POLICY ]]; then
        trap drop_policy EXIT
        printf '#!/bin/sh\nexit 101\n' >"$POLICY"
        chmod 0755 "$POLICY"
        made_policy=1
    fi
    # A mirror hiccup should not fail a CI run: retry a few times.
    for i in 1 2 3; do
        if apt-get -o DPkg::Lock::Timeout=120 update -qq &&
           apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 "$@"; then
            return 0
        fi
        echo "$PROG: apt-get failed (try $i of 3)" >&2
        sleep $(( i * 10 ))
    done
    die "could not install: $*"
}

main() {
    local server pkg missing=() want=("$@")
    (( ${#want[@]} )) || want=(dovecot)
    for server in "${want[@]}"; do
        [[ " $SERVERS " == *" $server "* ]] || die "unknown server '$server' (known: $SERVERS)"
        for pkg in $("packages_$server"); do
            installed "$pkg" || missing+=("$pkg")
        done
    done
    if (( ${#missing[@]} == 0 )); then
        echo "$PROG: already installed: ${want[*]}"
        return 0
    fi
    echo "$PROG: installing ${missing[*]}"
    apt_install "${missing[@]}"
    for pkg in "${missing[@]}"; do
        installed "$pkg" || die "$pkg is still not installed"
    done
}

main "$@"
