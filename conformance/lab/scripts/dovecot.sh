#!/usr/bin/env bash
# dovecot.sh -- throw-away Dovecot 2.3 POP3 instance on 127.0.0.1 for the
# POP3 conformance lab (driven by conformance/lab/servers.py).
#
#   dovecot.sh start DIR PORT        create/refresh the instance in DIR, start it,
#                                    return once 127.0.0.1:PORT accepts connections
#   dovecot.sh seed  DIR USER FILE.. append RFC 5322 message files to USER's INBOX
#                                    (in the order given => POP3 numbering order)
#   dovecot.sh clear DIR USER        expunge every message in USER's INBOX
#   dovecot.sh stop  DIR             stop the instance and its session processes
#                                    (found by the recorded master pid, never by name)
#   dovecot.sh status DIR            print "running PID PORT" / "stopped" (exit 0 / 3)
#
# Accounts: alice/alicepw bob/bobpw carol/carolpw dave/davepw (passwd-file,
# virtual users; no system account per user), which log in with USER/PASS or
# SASL; and erin/erinpw, a mailbox reached with APOP only (RFC 1939 section
# 13: one method or the other) when APOP is on (POP3LAB_APOP=1), in a second
# passwd-file whose passdb takes the APOP mechanism alone over POP3 (the first
# one takes every mechanism but APOP; IMAP logs erin in with her password, for
# the IMAP provisioner).  Mail is stored as Maildir in DIR/mail/USER/Maildir
# (cur/ new/ tmp/ exist from the first start on, so a file put into new/ and
# owned by the mail user is seen by the next login),
# owned by one existing unprivileged system user
# (default "mail", override with POP3LAB_DOVECOT_MAIL_USER); Dovecot refuses
# to access mail as root.  Only the Dovecot package users dovecot/dovenull
# are needed besides that.  Because those unprivileged users must reach
# DIR/etc, DIR/run and DIR/mail, these are kept in a shadow directory
# /tmp/poplab-dovecot-shadow/XXXXXX (DIR/etc|run|mail become symlinks) when
# DIR is not world-searchable, e.g. below a mode-0700 mktemp directory; DIR/run
# alone is shadowed when DIR is long (unix socket path limit).  Shadows whose
# DIR was deleted are removed by a later "start".
#
# Lab settings that differ from a stock Dovecot (see the lab README):
#   listen on 127.0.0.1:PORT only, pop3s disabled and ssl = no unless
#   POP3LAB_TLS_PORT says otherwise (below),
#   disable_plaintext_auth = no (USER/PASS without TLS),
#   pop3_lock_session = yes (RFC 1939 exclusive maildrop lock),
#   auth_failure_delay = 0 + passdb "nodelay" (failed logins answer at once),
#   auth penalty (anvil-auth-penalty listener) disabled,
#   mail_max_userip_connections = 1000 (stock 10).
#
# Environment knobs (optional):
#   POP3LAB_APOP=1              also offer APOP (greeting gets a timestamp) and
#                               SASL CRAM-MD5; default: stock "plain" + LOGIN
#   POP3LAB_EXCLUSIVE_LOCK=0    pop3_lock_session = no (stock Dovecot: concurrent
#                               sessions on one maildrop are allowed)
#   POP3LAB_DOVECOT_MAIL_USER   system user owning the mail files (default mail)
#   POP3LAB_START_TIMEOUT       seconds to wait for the port (default 15)
#   POP3LAB_LMTP_PORT=N         also an LMTP listener (RFC 2033) on 127.0.0.1:N,
#                               and on the socket DIR/run/lmtp (dovecot-lmtpd):
#                               mail delivered through the mail system, no files
#   POP3LAB_IMAP_PORT=N         also an IMAP listener on 127.0.0.1:N (dovecot-imapd),
#                               for IMAP APPEND; plaintext LOGIN, no TLS
#   POP3LAB_TLS_PORT=N          TLS: STLS on PORT and implicit TLS (pop3s) on
#                               127.0.0.1:N, with a certificate for localhost and
#                               127.0.0.1 issued by a CA made for this start
#                               (DIR/etc/tls/ca.pem: what a client verifies with)
#
# Output: nothing on success; errors on stderr with a non-zero exit status.
set -euo pipefail
umask 022

DOVECOT_BIN=/usr/sbin/dovecot
DOVEADM_BIN=/usr/bin/doveadm
ACCOUNTS="alice:alicepw bob:bobpw carol:carolpw dave:davepw"
APOP_ACCOUNTS="erin:erinpw"
MAIL_USER=${POP3LAB_DOVECOT_MAIL_USER:-mail}
START_TIMEOUT=${POP3LAB_START_TIMEOUT:-15}
PROG=${0##*/}
# shellcheck source=tls.sh source-path=SCRIPTDIR
source "$(dirname -- "${BASH_SOURCE[0]}")/tls.sh"

die() { echo "$PROG: error: $*" >&2; exit 1; }
usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

absdir() { realpath -m -- "$1"; }

# true if something accepts TCP connections on 127.0.0.1:$1
port_accepts() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# true if $1 is a live (non-zombie) process
pid_alive() {
    local st
    [[ -r /proc/$1/stat ]] || return 1
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}

# pids of the live processes of the Dovecot started as master $1: the master
# daemonizes with setsid(), so every process it forks (pop3 sessions included)
# has session id $1 and keeps it after the master is gone.  Only Dovecot's own
# executables are listed, so a pid reused by an unrelated session leader is
# never touched.  /proc rather than ps: procps is not on every minimal machine.
session_pids() {
    local sid=$1 p pid st exe
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        read -r st 2>/dev/null <"$p/stat" || continue   # gone meanwhile
        # fields after "(comm) ": state ppid pgrp session ...
        read -r _ _ _ st _ <<<"${st##*) }" || continue
        [[ $st == "$sid" ]] || continue
        exe=$(readlink -- "$p/exe" 2>/dev/null) || continue
        [[ $exe == "$DOVECOT_BIN" || $exe == /usr/lib/dovecot/* ]] || continue
        if pid_alive "$pid"; then echo "$pid"; fi
    done
    return 0
}

# pid of the running master of the instance in $1 (empty if not running)
master_pid() {
    local dir=$1 pid cmd
    [[ -r $dir/run/master.pid ]] || return 0
    pid=$(head -n1 "$dir/run/master.pid" 2>/dev/null | tr -dc 0-9)
    [[ -n $pid ]] || return 0
    pid_alive "$pid" || return 0
    # must really be the dovecot master started with this instance's config
    cmd=$( { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null ) || return 0
    [[ $cmd == *"$DOVECOT_BIN -c $dir/etc/dovecot.conf"* ]] || return 0
    echo "$pid"
}

user_password() { # $1=user -> password (exit 1 if unknown)
    local a
    for a in $ACCOUNTS $APOP_ACCOUNTS; do
        [[ ${a%%:*} == "$1" ]] && { echo "${a#*:}"; return 0; }
    done
    return 1
}

mail_ids() { # sets MUID MGID
    MUID=$(id -u "$MAIL_USER" 2>/dev/null) || die "system user '$MAIL_USER' does not exist"
    MGID=$(id -g "$MAIL_USER")
    [[ $MUID != 0 ]] || die "mail user must not be root (Dovecot refuses root mail access)"
}

# can system user $1 (uid) reach path $2 with test flag $3 ?
can_access() {
    setpriv --reuid="$1" --regid="$(id -g "$1")" --clear-groups -- test "$3" "$2" 2>/dev/null
}

# "service $1" with inet_listener $2 on 127.0.0.1:$3, then the lines of $4
loopback_service() {
    printf 'service %s {\n  inet_listener %s {\n    address = 127.0.0.1\n    port = %s\n  }\n%s}\n' \
        "$1" "$2" "$3" "$4"
}

write_config() { # $1=dir $2=port (0 = no listener, used before the first start)
    local dir=$1 port=$2 base mechs lock=yes etc protocols=pop3 ssl=no
    local lmtp_port=${POP3LAB_LMTP_PORT:-0} imap_port=${POP3LAB_IMAP_PORT:-0}
    local tls_port=${POP3LAB_TLS_PORT:-0}
    if (( port == 0 )); then lmtp_port=0 imap_port=0 tls_port=0; fi
    if (( tls_port != 0 )); then ssl=yes; fi
    [[ ${POP3LAB_EXCLUSIVE_LOCK:-1} == 0 ]] && lock=no
    if (( lmtp_port != 0 )); then protocols="$protocols lmtp"; fi
    if (( imap_port != 0 )); then protocols="$protocols imap"; fi
    base=$(real "$dir/run"); etc=$(real "$dir/etc")
    mechs="plain login"
    [[ ${POP3LAB_APOP:-0} == 1 ]] && mechs="plain login apop cram-md5"
    cat >"$etc/dovecot.conf.tmp" <<EOF
# Generated by $PROG -- Dovecot POP3 lab instance.  Edits are overwritten on start.
base_dir = $base
state_dir = $dir/state
instance_name = poplab-dovecot-$port
protocols = $protocols
listen = 127.0.0.1
ssl = $ssl
# allow USER/PASS and SASL PLAIN/LOGIN without TLS
disable_plaintext_auth = no
auth_mechanisms = $mechs
# no artificial delay after a failed login (stock: 2 secs)
auth_failure_delay = 0
log_path = $dir/log/dovecot.log
mail_location = maildir:~/Maildir
first_valid_uid = $MUID
last_valid_uid = $MUID
first_valid_gid = $MGID
mail_privileged_group =
# RFC 1939: the maildrop is locked exclusively for the whole POP3 session
pop3_lock_session = $lock
# stock is 10 per user+IP; the harness opens many sessions from 127.0.0.1
mail_max_userip_connections = 1000

service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $port
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $tls_port
    ssl = yes
  }
}
EOF
    if (( tls_port != 0 )); then
        # STLS on the POP3 port, implicit TLS on pop3s (RFC 8314); read as root.
        printf 'ssl_cert = <%s\nssl_key = <%s\n' "$etc/tls/server.pem" "$etc/tls/server.key" \
            >>"$etc/dovecot.conf.tmp"
    fi
    if (( lmtp_port != 0 )); then
        # LMTP (RFC 2033) on loopback and on a socket: the recipient is the user name.
        echo "postmaster_address = postmaster@localhost" >>"$etc/dovecot.conf.tmp"
        loopback_service lmtp lmtp "$lmtp_port" \
            $'  unix_listener lmtp {\n    mode = 0666\n  }\n' >>"$etc/dovecot.conf.tmp"
    fi
    if (( imap_port != 0 )); then
        # IMAP on loopback, for APPEND into INBOX (plaintext LOGIN: ssl = no).
        loopback_service imap-login imap "$imap_port" \
            $'  inet_listener imaps {\n    port = 0\n  }\n' >>"$etc/dovecot.conf.tmp"
    fi
    cat >>"$etc/dovecot.conf.tmp" <<EOF
# no auth penalty (per-IP exponential delay 2..15 s after failed logins):
# without this listener the auth process cannot reach anvil's penalty table.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
# First passdb only adds the "nodelay" extra field (noauthenticate => it never
# decides anything); this makes failed logins answer immediately instead of
# waiting for the auth process's 500 ms failure-queue tick.
passdb {
  driver = static
  args = noauthenticate=y nodelay=y
}
# USER/PASS and SASL mailboxes take every mechanism but APOP; over POP3 the
# APOP mailboxes take APOP alone (RFC 1939 section 13: one method or the
# other).  IMAP, the provisioner's way in, logs them in with their password:
# apop-users-imap lists them, apop-users-pop3 is empty (%s: the service).
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $etc/users
  mechanisms = plain login cram-md5
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $etc/apop-users
  mechanisms = apop
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $etc/apop-users-%s
  mechanisms = plain login
}
userdb {
  driver = passwd-file
  args = username_format=%u $etc/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $etc/apop-users
}
EOF
    mv -f "$etc/dovecot.conf.tmp" "$etc/dovecot.conf"
}

# --- paths that Dovecot's unprivileged processes must reach ---------------
# DIR/etc (config, users), DIR/run (base_dir, sockets) and DIR/mail (Maildirs)
# are used by processes running as "dovecot" and as the mail user.  If DIR is
# not reachable for them (e.g. below a mode-0700 mktemp directory), these three
# live in a "shadow" directory /tmp/poplab-dovecot-shadow/XXXXXX and DIR/etc,
# DIR/run, DIR/mail are symlinks to it.  DIR/run is also shadowed when DIR is
# long (unix socket paths are limited to 107 bytes).  A shadow whose DIR is
# gone is removed by the next "start".  Dovecot is always given resolved paths.
SHADOW_ROOT=/tmp/poplab-dovecot-shadow

real() { readlink -f -- "$1"; }

shadow_of() { # $1=dir -> shadow dir of this instance (created if needed)
    local dir=$1 n t s
    for n in etc run mail; do
        if [[ -L $dir/$n ]]; then
            t=$(readlink -- "$dir/$n")
            if [[ $t == "$SHADOW_ROOT"/* && -d ${t%/*} ]]; then echo "${t%/*}"; return 0; fi
        fi
    done
    mkdir -p "$SHADOW_ROOT"; chmod 0755 "$SHADOW_ROOT"
    s=$(mktemp -d "$SHADOW_ROOT/XXXXXX"); chmod 0755 "$s"
    echo "$dir" >"$s/owner"
    echo "$s"
}

shadow_gc() { # remove shadows whose DIR no longer points at them
    local s owner pid
    [[ -d $SHADOW_ROOT ]] || return 0
    for s in "$SHADOW_ROOT"/*; do
        [[ -f $s/owner ]] || continue
        # never touch a shadow created in the last minute (its links may be
        # about to be made by a concurrent start/seed)
        [[ -n $(find "$s/owner" -mmin -1 2>/dev/null) ]] && continue
        owner=$(<"$s/owner")
        [[ $(readlink -- "$owner/run" 2>/dev/null) == "$s/run" ]] && continue
        [[ $(readlink -- "$owner/mail" 2>/dev/null) == "$s/mail" ]] && continue
        pid=$( { tr -dc 0-9 <"$s/run/master.pid"; } 2>/dev/null || true)
        if [[ -n $pid ]] && pid_alive "$pid"; then continue; fi
        rm -rf -- "$s"
    done
}

# A passwd-file of accounts ("user:password" words), each with its Maildir.
put_copy() { # $1=source $2=destination: a copy with mode 0644, renamed into place
    local tmp
    tmp=$(mktemp "$2.XXXXXX")
    cat -- "$1" >"$tmp"
    chmod 0644 "$tmp"
    mv -f -- "$tmp" "$2"
}

write_users() { # $1=file $2=mail dir, rest: accounts
    local file=$1 mail=$2 a u p n tmp
    shift 2
    # a private temporary name: two seeds of one instance may run at once
    tmp=$(mktemp "$file.XXXXXX")
    for a in "$@"; do
        u=${a%%:*}; p=${a#*:}
        printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$u" "$p" "$MUID" "$MGID" "$mail/$u" >>"$tmp"
        # The Maildir exists before the first login, so that a provisioner
        # may drop files (owned by the mail user) into new/ at once.  Mode
        # 0700 as Dovecot's own: it copies the mailbox directory's mode to
        # the index files it creates.
        for n in "" /Maildir /Maildir/cur /Maildir/new /Maildir/tmp; do
            [[ -d $mail/$u$n ]] || install -d -o "$MUID" -g "$MGID" -m 0700 "$mail/$u$n"
        done
    done
    chmod 0644 "$tmp"
    mv -f "$tmp" "$file"
}

# Create the directory layout, users files and (if missing) a config.
ensure_layout() { # $1=dir [$2=port]
    local dir=$1 port=${2:-} n s reach=1 etc mail
    mail_ids
    mkdir -p "$dir" "$dir/log" "$dir/state"
    chmod 0755 "$dir"   # mail user and dovecot internal user must traverse it
    can_access "$MAIL_USER" "$dir" -x || reach=0
    for n in etc run mail; do
        if [[ -L $dir/$n && ! -e $dir/$n ]]; then rm -f -- "$dir/$n"; fi   # dangling
        [[ -e $dir/$n ]] && continue
        if (( ! reach )) || { [[ $n == run ]] && (( ${#dir} > 75 )); }; then
            s=$(shadow_of "$dir")
            [[ -d $s/$n ]] || mkdir -m 0755 "$s/$n"
            ln -s "$s/$n" "$dir/$n"
        else
            mkdir -m 0755 "$dir/$n"
        fi
    done
    etc=$(real "$dir/etc"); mail=$(real "$dir/mail")
    # shellcheck disable=SC2086  # one word per account
    write_users "$etc/users" "$mail" $ACCOUNTS
    # shellcheck disable=SC2086
    write_users "$etc/apop-users" "$mail" $APOP_ACCOUNTS
    # Two seeds of one instance may run at once: each file is written under a
    # private name and renamed into place (install and cp fail on a race).
    put_copy "$etc/apop-users" "$etc/apop-users-imap"
    put_copy /dev/null "$etc/apop-users-pop3"
    if [[ -n $port ]]; then
        write_config "$dir" "$port"
    elif [[ ! -e $etc/dovecot.conf ]]; then
        write_config "$dir" 0
    fi
    # the processes that do not run as root must be able to reach these
    can_access "$MAIL_USER" "$mail" -x ||
        die "$mail is not reachable by user '$MAIL_USER' (DIR was reachable before?); use a new DIR"
    can_access dovecot "$etc/users" -r ||
        die "$etc/users is not readable by user 'dovecot'"
}

# run doveadm as the mail user for USER (no userdb lookup, so it works whether
# or not the server is running)
doveadm_as() { # $1=dir $2=user, rest = doveadm args
    local dir=$1 user=$2; shift 2
    setpriv --reuid="$MUID" --regid="$MGID" --clear-groups -- \
        env -i HOME="$(real "$dir/mail")/$user" USER="$user" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        "$DOVEADM_BIN" -o stats_writer_socket_path= -c "$(real "$dir/etc")/dovecot.conf" "$@"
}

cmd_start() {
    [[ $# -eq 2 ]] || usage
    local dir port pid i tls_port
    dir=$(absdir "$1"); port=$2
    if ! [[ $port =~ ^[0-9]+$ ]] || (( port < 1 || port > 65535 )); then
        die "bad PORT '$port'"
    fi
    [[ -x $DOVECOT_BIN ]] || die "$DOVECOT_BIN not installed"
    pid=$(master_pid "$dir")
    [[ -z $pid ]] || die "instance in $dir is already running (pid $pid)"
    port_accepts "$port" && die "127.0.0.1:$port already accepts connections (port in use)"
    tls_port=${POP3LAB_TLS_PORT:-0}
    if [[ ! $tls_port =~ ^[0-9]+$ ]] || (( tls_port > 65535 )); then die "bad POP3LAB_TLS_PORT"; fi
    if (( tls_port != 0 )) && port_accepts "$tls_port"; then
        die "127.0.0.1:$tls_port already accepts connections (port in use)"
    fi
    shadow_gc
    ensure_layout "$dir" "$port"
    if (( tls_port != 0 )); then
        make_certs "$(real "$dir/etc")/tls" root || die "cannot make the TLS certificates"
    fi
    rm -f "$dir/run/master.pid"
    echo "=== $(date '+%F %T') $PROG start port $port" >>"$dir/log/dovecot.log"
    if ! "$DOVECOT_BIN" -c "$dir/etc/dovecot.conf" </dev/null >"$dir/log/start.err" 2>&1; then
        cat "$dir/log/start.err" >&2
        die "dovecot failed to start (see $dir/log/dovecot.log)"
    fi
    # poll until the port accepts connections
    for (( i = 0; i < START_TIMEOUT * 20; i++ )); do
        pid=$(master_pid "$dir")
        if [[ -n $pid ]] && port_accepts "$port"; then
            # make sure the listener is ours and not someone else's
            if command -v ss >/dev/null &&
               [[ $(ss -Hltnp "sport = :$port" 2>/dev/null || true) != *"pid=$pid,"* ]]; then
                cmd_stop "$dir" >/dev/null 2>&1 || true
                die "127.0.0.1:$port is served by another process"
            fi
            return 0
        fi
        if (( i > 10 )) && [[ -z $pid ]]; then break; fi
        sleep 0.05
    done
    tail -n 20 "$dir/log/dovecot.log" >&2 2>/dev/null || true
    if [[ -n $pid ]]; then cmd_stop "$dir" >/dev/null 2>&1 || true; fi
    die "dovecot did not start listening on 127.0.0.1:$port"
}

cmd_stop() {
    [[ $# -eq 1 ]] || usage
    local dir pid kids k i
    dir=$(absdir "$1")
    pid=$(master_pid "$dir")
    if [[ -n $pid ]]; then
        kill -TERM "$pid" 2>/dev/null || true
        for (( i = 0; i < 200; i++ )); do pid_alive "$pid" || break; sleep 0.05; done
        if pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        for (( i = 0; i < 100; i++ )); do pid_alive "$pid" || break; sleep 0.05; done
        if pid_alive "$pid"; then die "dovecot master $pid did not exit"; fi
        # Dovecot 2.3's master exits (~1 s) WITHOUT ending running pop3
        # sessions: they would go on serving their client.  End them (and
        # any other leftover child) by pid; SIGTERM = no UPDATE/expunge.
        # Listed only now, so that a session forked during shutdown is caught.
        kids=$(session_pids "$pid")
        for k in $kids; do kill -TERM "$k" 2>/dev/null || true; done
        for k in $kids; do
            for (( i = 0; i < 100; i++ )); do pid_alive "$k" || break; sleep 0.05; done
            if pid_alive "$k"; then kill -KILL "$k" 2>/dev/null || true; fi
        done
        kids=$(session_pids "$pid")
        [[ -z $kids ]] || die "dovecot processes still alive: ${kids//$'\n'/ }"
    fi
    rm -f "$dir/run/master.pid"
    return 0
}

cmd_seed() {
    [[ $# -ge 3 ]] || usage
    local dir user f
    dir=$(absdir "$1"); user=$2; shift 2
    user_password "$user" >/dev/null || die "unknown user '$user'"
    for f in "$@"; do [[ -f $f && -r $f ]] || die "cannot read message file '$f'"; done
    ensure_layout "$dir"
    for f in "$@"; do
        # doveadm save stores the message with LF line endings (CRLF input is
        # converted) and appends it with the next UID => POP3 order = argument order.
        doveadm_as "$dir" "$user" save -m INBOX <"$f" ||
            die "doveadm save failed for '$f'"
    done
}

cmd_clear() {
    [[ $# -eq 2 ]] || usage
    local dir user
    dir=$(absdir "$1"); user=$2
    user_password "$user" >/dev/null || die "unknown user '$user'"
    ensure_layout "$dir"
    doveadm_as "$dir" "$user" expunge mailbox INBOX all || die "doveadm expunge failed"
}

cmd_status() {
    [[ $# -eq 1 ]] || usage
    local dir pid port
    dir=$(absdir "$1")
    pid=$(master_pid "$dir")
    if [[ -n $pid ]]; then
        port=$(awk '$1 == "port" && $2 == "=" { print $3; exit }' "$dir/etc/dovecot.conf" || true)
        echo "running $pid $port"
        return 0
    fi
    echo "stopped"
    return 3
}

[[ $# -ge 1 ]] || usage
[[ $(id -u) == 0 ]] || die "must run as root"
cmd=$1; shift
case $cmd in
    start)  cmd_start "$@" ;;
    stop)   cmd_stop "$@" ;;
    seed)   cmd_seed "$@" ;;
    clear)  cmd_clear "$@" ;;
    status) cmd_status "$@" ;;
    *)      usage ;;
esac
