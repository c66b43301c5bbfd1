#!/usr/bin/env bash
# cyrus.sh -- throw-away Cyrus 3.6 pop3d instance on 127.0.0.1 for the POP3
# conformance lab (driven by conformance/lab/servers.py).
#
#   cyrus.sh start DIR PORT         fresh instance in DIR; returns once
#                                   127.0.0.1:PORT accepts connections
#   cyrus.sh seed  DIR USER FILE..  deliver RFC 5322 message files, in order,
#                                   to USER's INBOX (user.USER)
#   cyrus.sh clear DIR USER         expunge every message of user.USER
#   cyrus.sh stop  DIR              stop the instance and its processes (found by
#                                   the recorded master pid, never by name)
#
# The server: Debian's cyrus-pop3d + cyrus-common 3.6.1, unpacked (not
# installed) under $POP3LAB_ROOT/cyrus (default /opt/pop3lab) by
# .ci/install-servers.sh.  Cyrus `master` runs with its own imapd.conf and
# cyrus.conf, services pop3d (127.0.0.1:PORT only) and lmtpd (unix socket),
# started as root; Cyrus switches to the system user "cyrus" (group mail,
# created if missing) itself.  With POP3LAB_LMTP_PORT=N in the environment,
# lmtpd also listens on 127.0.0.1:N (preauthorized, -a), so that mail can be
# delivered through the mail system (LMTP, RFC 2033) without a shell on the
# host; the recipient is the user name.  master is the process recorded in
# DIR/run/master.pid.
#
# Everything lives in DIR/ns (configs, sasldb, configdirectory, partition,
# sockets), bind-mounted over $POP3LAB_ROOT/mnt inside a private mount
# namespace (unshare -m), so DIR itself may be private (e.g. 0700) and
# instances never collide.  Inside it /dev is a private copy whose /dev/log is
# a small syslog sink writing DIR/log/cyrus.log (Cyrus logs only via syslog,
# including "badlogin:" and lmtpd "Delivered:" lines).
#
# Accounts: SASL sasldb (DIR/ns/sasldb2, made with saslpasswd2 from sasl2-bin)
# holding alice/alicepw bob/bobpw carol/carolpw dave/davepw and the APOP
# mailbox erin/erinpw -- no system users.  USER/PASS allowed without TLS
# (allowplaintext), APOP works (allowapop; plaintext secrets in sasldb), SASL
# AUTH offers every mechanism of libsasl2-modules.  Cyrus checks every method
# against the one sasldb secret, so erin can also log in with USER/PASS (and
# alice with APOP): RFC 1939 section 13's "one or the other" cannot be set.
#
# TLS: with POP3LAB_TLS_PORT=N, STLS on PORT and implicit TLS on 127.0.0.1:N
# (a "pop3s" service, pop3d -s), with a certificate for localhost and
# 127.0.0.1 issued by a CA made for this start (DIR/ns/tls/ca.pem: what a
# client verifies with).
# Lab settings: failedloginpause 0 (stock 3 s), popminpoll 0 (Debian's 1
# minute answers a quick second login with [LOGIN-DELAY]), expunge_mode and
# delete_mode immediate, duplicatesuppression 0 (otherwise a re-seeded message
# whose Message-ID was delivered before is silently dropped), autocreate_quota
# 0 + autocreate_post 1 (INBOX created on first login or delivery).
#
# Seeding writes each message (with CRLF line ends) into the INBOX's spool
# folder as the next UID's file and runs `reconstruct`, which indexes it: the
# message is served exactly as seeded.  (Delivery through LMTP would add
# Return-Path:, Received:, X-Cyrus-Session-Id: and X-Sieve: headers, so the
# sizes and contents would no longer be those of the seeded files.)  The INBOX
# itself is made on first use by delivering a placeholder and expunging it.
set -euo pipefail
umask 022

ME=${0##*/}
# shellcheck source=common.sh source-path=SCRIPTDIR disable=SC2034
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
APOP_ACCOUNTS=$LAB_APOP_ACCOUNTS
CYBIN=$LAB/cyrus/usr/lib/cyrus/bin
CYLIB=$LAB/cyrus/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$CYLIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

ensure_system() {
    local b
    for b in master pop3d lmtpd deliver ipurge ctl_cyrusdb; do
        [[ -x $CYBIN/$b ]] || die "missing $CYBIN/$b (run .ci/install-servers.sh cyrus)"
    done
    command -v saslpasswd2 >/dev/null || die "saslpasswd2 missing (run .ci/install-servers.sh cyrus)"
    command -v nsenter >/dev/null || die "nsenter (util-linux) missing"
    unshare -m true 2>/dev/null || die "mount namespaces (unshare -m) are required"
    getent group mail >/dev/null || die "group mail missing"
    getent passwd cyrus >/dev/null ||
        useradd --system -g mail -M -d /nonexistent -s /usr/sbin/nologin cyrus
}

in_ns() { # $1=dir, rest: a command to run inside the instance's mount namespace
    local pid
    pid=$(master_pid "$1"); shift
    [[ -n $pid ]] || die "no running instance"
    nsenter -t "$pid" -m -- "$@"
}

cmd_start() {
    local dir port=$2 h r c a realm i tls lmtp_inet='' pop3s=''
    mkdir -p -- "$1"
    dir=$(absdir "$1")
    [[ -z $(master_pid "$dir") ]] || die "instance in $dir is already running"
    check_port "$port"
    tls=$(tls_port)
    ensure_system
    rm -rf "${dir:?}/ns" "${dir:?}/log" "${dir:?}/run"
    h=$dir/ns r=$LAB/mnt
    mkdir -p "$h"/{etc,lib/db,lib/log,lib/proc,lib/socket,lib/user,lib/quota,spool,run/proc,run/lock,run/socket,sieve} \
        "$dir/log" "$dir/run" "$r"
    cat >"$h/etc/imapd.conf" <<CONF
# generated by $ME; paths are as seen inside the instance's mount namespace
configdirectory: $r/lib
proc_path: $r/run/proc
mboxname_lockpath: $r/run/lock
defaultpartition: default
partition-default: $r/spool
sievedir: $r/sieve
lmtpsocket: $r/run/socket/lmtp
idlesocket: $r/run/socket/idle
notifysocket: $r/run/socket/notify
admins: cyrus
altnamespace: no
unixhierarchysep: no
allowplaintext: yes
allowapop: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $r/sasldb2
popminpoll: 0
failedloginpause: 0
autocreate_quota: 0
autocreate_post: 1
expunge_mode: immediate
duplicatesuppression: 0
delete_mode: immediate
umask: 077
syslog_prefix: cyrus
CONF
    c="-C $r/etc/imapd.conf"
    if [[ -n $tls ]]; then
        make_certs "$h/tls" root || die "cannot make the TLS certificates"
        printf 'tls_server_cert: %s\ntls_server_key: %s\n' "$r/tls/server.pem" "$r/tls/server.key" \
            >>"$h/etc/imapd.conf"
        pop3s="pop3s cmd=\"$CYBIN/pop3d -s $c\" listen=\"127.0.0.1:$tls\" prefork=0 maxchild=50"
    fi
    if [[ ${POP3LAB_LMTP_PORT:-0} != 0 ]]; then
        check_port "$POP3LAB_LMTP_PORT"
        lmtp_inet="lmtp cmd=\"$CYBIN/lmtpd -a $c\" listen=\"127.0.0.1:$POP3LAB_LMTP_PORT\" prefork=0 maxchild=20"
    fi
    cat >"$h/etc/cyrus.conf" <<CONF
# generated by $ME
START {
  recover cmd="$CYBIN/ctl_cyrusdb $c -r"
}
SERVICES {
  pop3 cmd="$CYBIN/pop3d $c" listen="127.0.0.1:$port" prefork=0 maxchild=50
  $pop3s
  lmtpunix cmd="$CYBIN/lmtpd $c" listen="$r/run/socket/lmtp" prefork=0 maxchild=20
  $lmtp_inet
}
EVENTS {
  checkpoint cmd="$CYBIN/ctl_cyrusdb $c -c" period=30
}
CONF
    realm=$(hostname)
    for a in $ACCOUNTS $APOP_ACCOUNTS; do
        printf '%s' "${a#*:}" | saslpasswd2 -f "$h/sasldb2" -u "$realm" -p -c "${a%%:*}"
    done
    chown -R cyrus:mail "$h"
    chmod 755 "$h"
    chmod 750 "$h/lib" "$h/spool"
    chmod 640 "$h/sasldb2"
    NS_PIDFILE=$dir/run/master.pid
    NS_BINDS="$h|$r"
    NS_ROOT=$r
    NS_SYSLOG=$dir/log/cyrus.log
    NS_LOG=$dir/log/start.log
    # master's -L names DIR/log/: the marker that identifies it
    ns_launch "$CYBIN/master" -C "$r/etc/imapd.conf" -M "$r/etc/cyrus.conf" \
        -p "$r/run/master.pid" -L "$dir/log/master.out"
    wait_listening "$dir" "$port" ||
        start_failed "$dir" "$port" "$dir/log/start.log" "$dir/log/cyrus.log"
    if [[ -n $tls ]]; then
        wait_listening "$dir" "$tls" ||
            start_failed "$dir" "$tls" "$dir/log/start.log" "$dir/log/cyrus.log"
    fi
    # seeding needs lmtpd's socket, which master makes after the pop3 one
    for (( i = 0; i < START_TIMEOUT * 10; i++ )); do
        [[ -S $h/run/socket/lmtp ]] && return 0
        sleep 0.1
    done
    start_failed "$dir" "$port" "$dir/log/start.log" "$dir/log/cyrus.log"
}

cyrus_tool() { # $1=dir $2=tool, rest: its arguments; run as user cyrus in the namespace
    local dir=$1 tool=$2; shift 2
    in_ns "$dir" setpriv --reuid="$(id -u cyrus)" --regid="$(id -g cyrus)" --clear-groups \
        env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" "$CYBIN/$tool" -C "$LAB/mnt/etc/imapd.conf" "$@"
}

# USER's INBOX folder in the spool, as seen from outside the namespace; the
# INBOX is made on first use by delivering a placeholder and expunging it.
inbox_dir() { # $1=dir $2=user
    local dir=$1 user=$2 path
    if ! path=$(cyrus_tool "$dir" mbpath "user.$user" 2>/dev/null); then
        printf 'Subject: placeholder\r\n\r\n' |
            in_ns "$dir" "$CYBIN/deliver" -C "$LAB/mnt/etc/imapd.conf" -q "$user" ||
            die "cannot create the INBOX of $user"
        cmd_clear "$dir" "$user"
        path=$(cyrus_tool "$dir" mbpath "user.$user") || die "no INBOX for $user"
    fi
    [[ $path == "$LAB/mnt/"* ]] || die "unexpected spool path '$path'"
    echo "$dir/ns/${path#"$LAB/mnt/"}"
}

cmd_seed() {
    local dir user=$2 f box uid n file
    dir=$(absdir "$1"); shift 2
    check_user "$user"
    for f in "$@"; do [[ -f $f && -r $f ]] || die "cannot read message file '$f'"; done
    box=$(inbox_dir "$dir" "$user")
    # The next UID must be above the mailbox's "Last UID" (reconstruct gives a
    # file at or below it a new UID, out of order) and above any file present.
    n=$(cyrus_tool "$dir" mbexamine "user.$user" | sed -n 's/.*Last UID: *\([0-9][0-9]*\).*/\1/p')
    [[ $n =~ ^[0-9]+$ ]] || die "cannot read the last UID of user.$user"
    uid=$(( n + 1 ))
    for file in "$box"/*.; do
        [[ -e $file ]] || continue
        n=${file##*/}; n=${n%.}
        if [[ $n =~ ^[0-9]+$ ]] && (( n >= uid )); then uid=$(( n + 1 )); fi
    done
    for f in "$@"; do
        # Cyrus keeps messages with CRLF line ends and serves them as stored.
        sed -e 's/\r$//' -e 's/$/\r/' -- "$f" >"$box/$uid."
        chown cyrus:mail "$box/$uid."
        chmod 600 "$box/$uid."
        uid=$(( uid + 1 ))
    done
    # reconstruct indexes the new files, in UID order => POP3 order = argument order
    cyrus_tool "$dir" reconstruct -q "user.$user" >/dev/null || die "reconstruct of user.$user failed"
}

cmd_clear() {
    local dir user=$2 out
    dir=$(absdir "$1")
    check_user "$user"
    # -f: also user.* mailboxes; -b 0: every message larger than 0 bytes; -M: no recursion
    if ! out=$(in_ns "$dir" "$CYBIN/ipurge" -C "$LAB/mnt/etc/imapd.conf" -f -M -b 0 "user.$user" 2>&1); then
        case $out in
            *"Mailbox does not exist"*|*"not found"*|"") ;;  # INBOX not made yet: empty already
            *) echo "$out" >&2; die "ipurge failed for $user" ;;
        esac
    fi
}

cmd_stop() {
    stop_instance "$(absdir "$1")"
}

dispatch "$@"
