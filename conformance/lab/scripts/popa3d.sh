#!/usr/bin/env bash
# popa3d.sh -- throw-away popa3d 1.0.3 POP3 instance on 127.0.0.1 for the
# POP3 conformance lab (driven by conformance/lab/servers.py).
#
#   popa3d.sh start DIR PORT         fresh instance in DIR; returns once
#                                    127.0.0.1:PORT accepts connections
#   popa3d.sh seed  DIR USER FILE..  append RFC 5322 message files to USER's mbox
#                                    (in the order given => POP3 numbering order)
#   popa3d.sh clear DIR USER         empty USER's mbox
#   popa3d.sh stop  DIR              stop the instance and its sessions (found by
#                                    the recorded master pid, never by name)
#
# The server: Debian's popa3d 1.0.3-1.1, unpacked (not installed) under
# $POP3LAB_ROOT/popa3d (default /opt/pop3lab) by .ci/install-servers.sh.  It
# runs inetd-style behind `socat TCP-LISTEN:PORT,bind=127.0.0.1,fork
# EXEC:popa3d,nofork` (nofork: popa3d gets the accepted socket itself); socat
# is the master whose pid is recorded in DIR/run/master.pid.  Its own
# standalone mode would bind 0.0.0.0:110, hard-coded.
#
# Compiled in: mail spool /var/mail/USER (mbox), chroot dir /var/lib/popa3d,
# privilege-separation user "popa3d", PAM service "popa3d".  So the listener
# runs in a private mount namespace (unshare -m) where DIR/spool is
# bind-mounted over /var/mail: instances share nothing with each other nor with
# the real /var/mail.  Inside it /dev is a private copy whose /dev/log is a
# small syslog sink writing DIR/log/popa3d.log (popa3d logs only via syslog).
#
# Accounts: SYSTEM users alice/alicepw bob/bobpw carol/carolpw dave/davepw
# (created with useradd if missing; passwords set with chpasswd on every
# start).  /etc/pam.d/popa3d is written with "pam_unix.so nodelay", so a
# failed login is answered at once.
#
# Storage: mbox as an MDA writes it (mboxo): a "From " line, LF line ends,
# ">" before body lines starting with "From ", an empty line after each
# message.  popa3d derives UIDLs from a few headers only (Received:, Date:,
# Message-ID:, X-Delivery-ID:, ...): messages lacking all of them share one
# UIDL.
set -euo pipefail
umask 022

ME=${0##*/}
# shellcheck source=common.sh source-path=SCRIPTDIR disable=SC2034
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
BIN=$LAB/popa3d/usr/sbin/popa3d

ensure_system() {
    [[ -x $BIN ]] || die "missing $BIN (run .ci/install-servers.sh popa3d)"
    command -v socat >/dev/null || die "socat not installed (run .ci/install-servers.sh popa3d)"
    unshare -m true 2>/dev/null || die "mount namespaces (unshare -m) are required"
    local a u want
    for a in $ACCOUNTS; do
        u=${a%%:*}
        getent passwd "$u" >/dev/null || useradd -m -s /usr/sbin/nologin "$u"
    done
    for a in $ACCOUNTS; do echo "$a"; done | chpasswd
    getent passwd popa3d >/dev/null ||
        useradd --system -M -d /nonexistent -s /usr/sbin/nologin popa3d
    mkdir -p /var/lib/popa3d
    chmod 755 /var/lib/popa3d
    want=$'# written by popa3d.sh (pop3 lab): no failure delay\nauth\trequired\tpam_unix.so nodelay\naccount\trequired\tpam_unix.so\n'
    if [[ ! -f /etc/pam.d/popa3d || "$(cat /etc/pam.d/popa3d)"$'\n' != "$want" ]]; then
        printf '%s' "$want" >/etc/pam.d/popa3d
    fi
}

cmd_start() {
    local dir port=$2 a u
    mkdir -p -- "$1"
    dir=$(absdir "$1")
    [[ -z $(master_pid "$dir") ]] || die "instance in $dir is already running"
    check_port "$port"
    ensure_system
    rm -rf "${dir:?}/spool" "${dir:?}/log" "${dir:?}/ns" "${dir:?}/run"
    mkdir -p "$dir/spool" "$dir/log" "$dir/ns" "$dir/run" "$LAB/mnt"
    chmod 1777 "$dir/spool"   # popa3d dot-locks USER.lock as the user
    chmod 755 "$dir/ns"
    for a in $ACCOUNTS; do
        u=${a%%:*}
        install -o "$u" -g mail -m 600 /dev/null "$dir/spool/$u"
    done
    NS_PIDFILE=$dir/run/master.pid
    NS_BINDS="$dir/spool|/var/mail"$'\n'"$dir/ns|$LAB/mnt"
    NS_ROOT=$LAB/mnt
    NS_SYSLOG=$dir/log/popa3d.log
    NS_LOG=$dir/log/start.log
    # socat's own log names DIR/log/: the marker that identifies the master
    ns_launch socat -lf "$dir/log/socat.log" \
        "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "EXEC:$BIN,nofork"
    wait_listening "$dir" "$port" ||
        start_failed "$dir" "$port" "$dir/log/start.log" "$dir/log/socat.log"
}

cmd_seed() { spool_seed 1 "$@"; }

cmd_clear() { spool_clear "$@"; }

cmd_stop() {
    stop_instance "$(absdir "$1")"
}

dispatch "$@"
