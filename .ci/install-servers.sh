#!/usr/bin/env bash
# install-servers.sh -- install the real POP3 servers of the lab (idempotent).
#
#   .ci/install-servers.sh [SERVER...]     default: all of them
#
# Servers (Debian 12 packages):
#   dovecot     dovecot-core + dovecot-pop3d          apt-get install
#               (+ dovecot-lmtpd, dovecot-imapd: LMTP and IMAP listeners)
#   mailutils   mailutils-pop3d                       apt-get install
#   cyrus       cyrus-pop3d + cyrus-common            unpacked, see below
#   courier     courier-pop + courier-base + courier-authlib
#               + courier-authdaemon + courier-authlib-userdb   unpacked
#   popa3d      popa3d                                unpacked
#   solidpop3d  solid-pop3d                           unpacked
#
# The last four each conflict with the virtual package pop3-server, which
# dovecot-pop3d and mailutils-pop3d provide, so apt cannot install them beside
# those two.  Their .debs are fetched with `apt-get download` into
# $POP3LAB_ROOT/debs and unpacked with `dpkg -x` into $POP3LAB_ROOT/NAME
# (default /opt/pop3lab); only their shared libraries and the tools the lab
# scripts use (socat, sasl2-bin, openssl, perl, ...) are apt-installed.  Nothing
# is configured or started here: conformance/lab/scripts/NAME.sh does that.
#
# When everything a server needs is there already, this does nothing and needs
# no network (CI calls it on every run); otherwise it runs `apt-get update`
# once and installs or unpacks what is missing.  Runs as root.
#
# Adding a server: an apt one gets a packages_NAME function printing its apt
# packages; an unpacked one gets debs_NAME (the .debs to unpack), tools_NAME
# (apt packages its script needs) and check_NAME (the executables to test,
# with the library path they need); then list it in SERVERS.
set -euo pipefail

PROG=${0##*/}
SERVERS="dovecot mailutils cyrus courier popa3d solidpop3d"
LAB=${POP3LAB_ROOT:-/opt/pop3lab}

die() { echo "$PROG: error: $*" >&2; exit 1; }

# --- what each server needs ---------------------------------------------------
# (ps comes from procps and ss from iproute2: the scripts use both.)
# openssl makes each instance's CA and certificate (scripts/tls.sh) for STLS
# and implicit TLS; Mailutils also needs it for its crypt hashes.
packages_dovecot() { echo dovecot-core dovecot-pop3d dovecot-lmtpd dovecot-imapd openssl procps; }
packages_mailutils() { echo mailutils-pop3d openssl procps; }

debs_cyrus() { echo cyrus-pop3d cyrus-common; }
debs_courier() { echo courier-pop courier-base courier-authlib courier-authdaemon courier-authlib-userdb; }
debs_popa3d() { echo popa3d; }
debs_solidpop3d() { echo solid-pop3d; }

# python3 runs the small syslog sink inside the mount namespaces.
tools_cyrus() { echo sasl2-bin libsasl2-modules libsasl2-modules-db openssl util-linux procps python3; }
tools_courier() { echo openssl perl util-linux procps python3; }
tools_popa3d() { echo socat util-linux procps python3 libpam-modules; }
tools_solidpop3d() { echo socat util-linux procps python3 libpam-modules; }

# Executables that must resolve all their libraries, then the library path
# they run with (after "--").
check_cyrus() {
    local b
    for b in master pop3d lmtpd deliver ipurge ctl_cyrusdb; do echo "$LAB/cyrus/usr/lib/cyrus/bin/$b"; done
    echo -- "$LAB/cyrus/usr/lib/x86_64-linux-gnu"
}
check_courier() {
    local b
    for b in usr/sbin/couriertcpd usr/lib/courier/courier/courierpop3login \
             usr/lib/courier/courier/courierpop3d usr/lib/courier/courier-authlib/authdaemond \
             usr/bin/deliverquota.courier usr/bin/couriertls \
             usr/lib/courier-authlib/libauthuserdb.so; do
        echo "$LAB/courier/$b"
    done
    echo -- "$LAB/courier/usr/lib"
}
check_popa3d() { echo "$LAB/popa3d/usr/sbin/popa3d" --; }
check_solidpop3d() { echo "$LAB/solidpop3d/usr/sbin/solid-pop3d" --; }

# Dependencies of the unpacked packages that are NOT wanted: the packages
# themselves, things that would pull an MTA or run maintainer scripts, and
# things the lab does not use.
SKIP=" popa3d solid-pop3d cyrus-pop3d cyrus-common courier-pop courier-base courier-authlib
       courier-authdaemon courier-authlib-userdb adduser debconf debconf-2.0 default-mta
       mail-transport-agent lsb-base netbase update-inetd init-system-helpers sysvinit-utils
       init-d-script perl:any gawk e2fsprogs db-util gnutls-bin libpam-runtime libc6 "
SKIP=${SKIP//$'\n'/ }  # one line, so that every word has a space on each side

# --- helpers -------------------------------------------------------------------
installed() { # $1=package: true if dpkg has it fully installed
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

is_unpacked_server() { declare -F "debs_$1" >/dev/null; }

# Package scripts would start the system-wide daemon (on ports 110/995) on a
# machine with an init system; the lab starts its own instances instead.  A
# policy-rc.d that answers 101 ("action forbidden") stops that, and is removed
# again afterwards (only if this script made it).
POLICY=/usr/sbin/policy-rc.d
made_policy=0
drop_policy() { if (( made_policy )); then rm -f -- "$POLICY"; fi; }

need_root() { [[ $(id -u) == 0 ]] || die "must run as root to install: $*"; }

updated=0
apt_update() {
    (( updated )) && return 0
    command -v apt-get >/dev/null || die "apt-get not found (the lab needs Debian or Ubuntu)"
    retry apt-get -o DPkg::Lock::Timeout=120 update -qq
    updated=1
}

retry() { # a mirror hiccup or a held dpkg lock should not fail a CI run
    local i
    for i in 1 2 3; do
        "$@" && return 0
        echo "$PROG: failed (try $i of 3): $*" >&2
        sleep $(( i * 10 ))
    done
    return 1
}

apt_install() { # packages...
    need_root "$@"
    export DEBIAN_FRONTEND=noninteractive
    if [[ ! -e $POLICY ]]; then
        trap drop_policy EXIT
        printf '#!/bin/sh\nexit 101\n' >"$POLICY"
        chmod 0755 "$POLICY"
        made_policy=1
    fi
    apt_update
    retry apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 "$@" ||
        die "could not install: $*"
    local pkg
    for pkg in "$@"; do installed "$pkg" || die "$pkg is still not installed"; done
}

newest_deb() { # $1=package -> path of its newest downloaded .deb (empty if none)
    local f
    # shellcheck disable=SC2012  # Debian file names: no spaces or newlines
    f=$(ls -1 "$LAB/debs/$1"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
    echo "$f"
}

libs_resolve() { # $1=server: every executable it needs exists and finds its libraries
    local words w libpath="" files=() seen=0
    read -r -a words <<<"$("check_$1" | tr '\n' ' ')"
    for w in "${words[@]}"; do
        if (( seen )); then libpath=$w; elif [[ $w == -- ]]; then seen=1; else files+=("$w"); fi
    done
    for w in "${files[@]}"; do
        [[ -e $w ]] || return 1
        if LD_LIBRARY_PATH=$libpath ldd "$w" 2>/dev/null | grep -q 'not found'; then return 1; fi
    done
    return 0
}

# An unpacked server is complete when its stamp names the .debs it was made
# from, the apt packages recorded with it are installed, and its executables
# resolve their libraries: all checks that need no network.
unpacked_ok() { # $1=server
    local dir=$LAB/$1 pkg
    [[ -f $dir/.unpacked && -f $dir/.apt-needs ]] || return 1
    for pkg in $(<"$dir/.apt-needs"); do installed "$pkg" || return 1; done
    libs_resolve "$1"
}

deb_depends() { # $1=.deb -> first alternative of each (Pre-)Depends, minus SKIP
    local alt first
    for alt in $( { dpkg-deb -f "$1" Depends; dpkg-deb -f "$1" Pre-Depends; } | tr ',' '\n' |
                  sed -e 's/([^)]*)//g' -e 's/^ *//' -e 's/ *$//' -e 's/ *| */|/g'); do
        first=${alt%%|*}
        first=${first%:any}
        [[ $SKIP == *" $first "* ]] || echo "$first"
    done
}

install_unpacked() { # $1=server
    local server=$1 pkg deb debs=() needs missing=() dir=$LAB/$1
    need_root "$server"
    mkdir -p "$LAB/debs" "$LAB/mnt"
    for pkg in $("debs_$server"); do
        if [[ -z $(newest_deb "$pkg") ]]; then
            apt_update
            # apt-get download writes to the cwd, which the _apt sandbox user
            # may not be able to write: download as root.
            (cd "$LAB/debs" && retry apt-get -o APT::Sandbox::User=root download "$pkg") ||
                die "could not download $pkg"
        fi
        debs+=("$(newest_deb "$pkg")")
    done
    needs=$( { "tools_$server" | tr ' ' '\n'
               for deb in "${debs[@]}"; do deb_depends "$deb"; done; } | sort -u | tr '\n' ' ')
    for pkg in $needs; do installed "$pkg" || missing+=("$pkg"); done
    if (( ${#missing[@]} )); then
        echo "$PROG: $server: installing ${missing[*]}"
        apt_install "${missing[@]}"
    fi
    # Unpack afresh into a new directory, then swap it in: an interrupted run
    # never leaves a half-unpacked server that looks complete.
    rm -rf -- "$dir.new"
    mkdir -p "$dir.new"
    for deb in "${debs[@]}"; do dpkg -x "$deb" "$dir.new"; done
    echo "$needs" >"$dir.new/.apt-needs"
    printf '%s\n' "${debs[@]##*/}" >"$dir.new/.unpacked"
    rm -rf -- "$dir"
    mv -- "$dir.new" "$dir"
    libs_resolve "$server" || die "$server was unpacked into $dir but its executables do not resolve their libraries"
}

main() {
    local server pkg missing=() want=("$@") done_list=()
    (( ${#want[@]} )) || read -r -a want <<<"$SERVERS"
    for server in "${want[@]}"; do
        [[ " $SERVERS " == *" $server "* ]] || die "unknown server '$server' (known: $SERVERS)"
    done
    for server in "${want[@]}"; do
        if is_unpacked_server "$server"; then continue; fi
        for pkg in $("packages_$server"); do
            installed "$pkg" || missing+=("$pkg")
        done
    done
    if (( ${#missing[@]} )); then
        echo "$PROG: installing ${missing[*]}"
        apt_install "${missing[@]}"
    fi
    for server in "${want[@]}"; do
        is_unpacked_server "$server" || continue
        unpacked_ok "$server" && continue
        echo "$PROG: $server: unpacking into $LAB/$server"
        install_unpacked "$server"
        done_list+=("$server")
    done
    if (( ${#missing[@]} == 0 && ${#done_list[@]} == 0 )); then
        echo "$PROG: already installed: ${want[*]}"
    fi
}

main "$@"
