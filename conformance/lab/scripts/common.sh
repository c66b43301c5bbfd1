# shellcheck shell=bash disable=SC2034,SC2089,SC2090
# (SC2034: the variables are for the sourcing script; SC2089/SC2090: the
# Python program is passed through the environment on purpose.)
# common.sh -- shell functions shared by the lab scripts (sourced, not run).
#
# The caller sets ME (its own name for messages) before sourcing.  Every
# instance keeps the pid of its master in DIR/run/master.pid: the master is
# started with setsid, so it leads a session of its own, and every process it
# (or the launcher before it) forks keeps that session id even after the
# master is gone.  Stopping finds an instance's processes by that session id
# in /proc, never by a process name, so other instances and unrelated
# processes are never touched.

LAB=${POP3LAB_ROOT:-/opt/pop3lab}
ACCOUNTS="alice:alicepw bob:bobpw carol:carolpw dave:davepw"
# Mailboxes reached with APOP only (RFC 1939 section 13): a script whose
# server takes APOP sets APOP_ACCOUNTS=$LAB_APOP_ACCOUNTS.
LAB_APOP_ACCOUNTS="erin:erinpw"
APOP_ACCOUNTS=""
START_TIMEOUT=${POP3LAB_START_TIMEOUT:-15}

# shellcheck source=tls.sh source-path=SCRIPTDIR
source "$(dirname -- "${BASH_SOURCE[0]}")/tls.sh"

die() { echo "$ME: error: $*" >&2; exit 1; }

# true if something accepts TCP connections on 127.0.0.1:$1
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

check_port() { # $1=port: a number that nothing listens on yet
    if ! [[ $1 =~ ^[0-9]+$ ]] || (( $1 < 1 || $1 > 65535 )); then die "bad PORT '$1'"; fi
    if port_open "$1"; then die "127.0.0.1:$1 already accepts connections (port in use)"; fi
}

# true if $1 is a live (non-zombie) process
pid_alive() {
    local st
    [[ -r /proc/$1/stat ]] || return 1
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}

# pids of the live processes whose session id is $1 (the leader included)
session_pids() {
    local f line pid fields
    for f in /proc/[0-9]*/stat; do
        # pure bash: this runs over every process, several times per stop
        { read -r line <"$f"; } 2>/dev/null || continue
        # after the command name (which may contain ") "): state ppid pgrp session ...
        read -r -a fields <<<"${line##*) }"
        [[ ${fields[3]:-} == "$1" ]] || continue
        [[ ${fields[0]} == Z || ${fields[0]} == X ]] && continue
        pid=${f#/proc/}; echo "${pid%/stat}"
    done
    return 0
}

check_user() {
    case " $ACCOUNTS $APOP_ACCOUNTS " in *" $1:"*) ;; *) die "unknown user '$1'" ;; esac
}

# The implicit-TLS port asked for with POP3LAB_TLS_PORT (empty: no TLS);
# checked to be free.  With it, the script also offers STLS on the POP3 port.
tls_port() {
    local port=${POP3LAB_TLS_PORT:-0}
    [[ $port == 0 ]] && return 0
    check_port "$port"
    echo "$port"
}

absdir() { realpath -m -- "$1"; }

# The marker that ties a process to an instance: every master's command line
# names a file in DIR/log/, so a pid recycled by another process never matches.
marker() { echo "$1/log/"; }

recorded_pid() { # $1=dir -> the pid in DIR/run/master.pid (empty if none)
    { head -n1 "$1/run/master.pid" | tr -dc 0-9; } 2>/dev/null || true
}

# true if the live process $1 is the master of the instance in $2
is_master_of() {
    local cmd
    cmd=$( { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null ) || return 1
    [[ $cmd == *"$(marker "$2")"* ]]
}

# pid of the running master of the instance in $1 (empty if none)
master_pid() {
    local pid
    pid=$(recorded_pid "$1")
    if [[ -n $pid ]] && pid_alive "$pid" && is_master_of "$pid" "$1"; then echo "$pid"; fi
    return 0
}

# true if a process of the session led by $2 listens on port $1
listener_in_session() { # $1=port $2=session id
    local listeners k
    listeners=$(ss -Hltnp "sport = :$1" 2>/dev/null || true)
    for k in $(session_pids "$2"); do
        [[ $listeners == *"pid=$k,"* ]] && return 0
    done
    return 1
}

# Wait until 127.0.0.1:$2 accepts and its listener is the master of $1 or a
# process the master's session started (Courier's second couriertcpd).
# Returns 1 when the master died or the timeout passed.
wait_listening() { # $1=dir $2=port
    local dir=$1 port=$2 i pid
    for (( i = 0; i < START_TIMEOUT * 20; i++ )); do
        pid=$(master_pid "$dir")
        if [[ -z $pid ]] && (( i > 10 )); then return 1; fi
        if [[ -n $pid ]] && port_open "$port"; then
            # The port is checked free before the start, but someone may have
            # taken it meanwhile: the listener must be this instance's.
            if ! listener_in_session "$port" "$pid"; then
                stop_instance "$dir" >/dev/null 2>&1 || true
                die "127.0.0.1:$port is served by another process"
            fi
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# End every process of the instance in $1: SIGTERM to the master and its
# session, SIGKILL to what is left after a grace period.  A POP3 session that
# gets SIGTERM leaves without UPDATE, as after a dropped connection.
stop_instance() { # $1=dir
    local dir=$1 pid kids k i
    pid=$(recorded_pid "$dir")
    # A live process under that pid that is not this instance's master got the
    # pid after our master ended: nothing here is ours.  A dead master's
    # session, though, is still ours: Linux does not hand out a pid while it
    # is the session id of a live process.
    if [[ -n $pid ]] && ! { pid_alive "$pid" && ! is_master_of "$pid" "$dir"; }; then
        for k in $(session_pids "$pid"); do kill -TERM "$k" 2>/dev/null || true; done
        for (( i = 0; i < 100; i++ )); do
            [[ -n $(session_pids "$pid") ]] || break
            sleep 0.05
        done
        # listed again: a process forked during the shutdown is caught too
        for k in $(session_pids "$pid"); do kill -KILL "$k" 2>/dev/null || true; done
        for (( i = 0; i < 100; i++ )); do
            [[ -n $(session_pids "$pid") ]] || break
            sleep 0.05
        done
        kids=$(session_pids "$pid")
        [[ -z $kids ]] || die "processes still alive: ${kids//$'\n'/ }"
    fi
    rm -f "$dir/run/master.pid"
    return 0
}

# Launch "$@" as the leader of a new session inside a private mount namespace.
# Environment in:
#   NS_PIDFILE  gets the session leader's pid (the leader execs "$@")
#   NS_BINDS    newline-separated "SRC|DST" bind mounts
#   NS_ROOT     dir visible inside the namespace for the private /dev copy
#               ('' = no private /dev, no syslog sink)
#   NS_SYSLOG   file that receives syslog lines
#   NS_LOG      file that receives stdout/stderr of the launched command
# The servers with compiled-in paths (/var/mail, /etc/courier, ...) get their
# own directories bind-mounted over those paths, so instances share nothing.
# Those that log only through syslog get a small sink on a private /dev/log.
NS_SYSLOG_PY='
import socket, sys, os, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
f = open(sys.argv[2], "ab", buffering=0)
while True:
    d = s.recv(65536)
    f.write(time.strftime("%H:%M:%S ").encode() + d.rstrip(b"\n\0") + b"\n")
'
ns_launch() {
    export NS_PIDFILE NS_BINDS NS_ROOT NS_SYSLOG NS_SYSLOG_PY NS_LOG
    # shellcheck disable=SC2016
    setsid unshare -m --propagation private bash -c '
        echo $$ > "$NS_PIDFILE"
        while IFS="|" read -r src dst; do
            [ -n "$src" ] || continue
            mount --bind "$src" "$dst" || { echo "bind mount $src -> $dst failed" >&2; exit 1; }
        done <<< "$NS_BINDS"
        if [ -n "$NS_ROOT" ] && [ -x /usr/bin/python3 ]; then
            mkdir -p "$NS_ROOT/dev"
            if mount --rbind /dev "$NS_ROOT/dev" 2>/dev/null &&
               mount -t tmpfs -o mode=755 tmpfs /dev 2>/dev/null; then
                for f in "$NS_ROOT"/dev/*; do ln -s "$f" "/dev/${f##*/}"; done
                /usr/bin/python3 -c "$NS_SYSLOG_PY" /dev/log "$NS_SYSLOG" </dev/null &
                for i in $(seq 1 50); do [ -S /dev/log ] && break; sleep 0.05; done
            fi
        fi
        cd /
        exec "$@"' ns-launch "$@" </dev/null >>"$NS_LOG" 2>&1 &
}

# After a failed start: show the logs, stop what may run, fail.
start_failed() { # $1=dir $2=port, rest: log files to show
    local dir=$1 port=$2; shift 2
    tail -n 20 "$@" >&2 2>/dev/null || true
    stop_instance "$dir" >/dev/null 2>&1 || true
    die "the server did not start listening on 127.0.0.1:$port"
}

# Append message files to an mbox, as an MDA would: "From " separator line,
# CRLF -> LF, a final newline.  $1=mbox $2=quoting (mboxo: ">" before lines
# starting "From "; mboxrd: also before ">From ", ">>From ", ...) $3=1 to end
# each message with an empty line; rest: files.
mbox_append() {
    local mbox=$1 quoting=$2 blank=$3 f re; shift 3
    case $quoting in
        mboxo) re='s/^From />From /' ;;
        mboxrd) re='s/^\(>*From \)/>\1/' ;;
        *) die "unknown mbox quoting $quoting" ;;
    esac
    for f in "$@"; do
        {
            printf 'From MAILER-DAEMON Thu Jan  1 00:00:00 2004\n'
            sed -e 's/\r$//' -e "$re" -- "$f"
            [[ -z $(tail -c1 -- "$f") ]] || printf '\n'
            [[ $blank != 1 ]] || printf '\n'
        } >>"$mbox"
    done
}

# -- mbox spool servers (popa3d, solid-pop3d): one mbox per user in DIR/spool --

spool_of() { # $1=dir
    [[ -d $1/spool ]] || die "no instance in $1 (run start first)"
    echo "$1/spool"
}

spool_seed() { # $1=1 or 0 (an empty line after each message) $2=dir $3=user, rest: files
    local blank=$1 dir user=$3 mbox f
    dir=$(absdir "$2"); shift 3
    check_user "$user"
    for f in "$@"; do [[ -f $f && -r $f ]] || die "cannot read message file '$f'"; done
    mbox=$(spool_of "$dir")/$user
    [[ -e $mbox ]] || install -o "$user" -g mail -m 600 /dev/null "$mbox"
    mbox_append "$mbox" mboxo "$blank" "$@"
}

spool_clear() { # $1=dir $2=user
    local dir user=$2 spool
    dir=$(absdir "$1")
    check_user "$user"
    spool=$(spool_of "$dir")
    install -o "$user" -g mail -m 600 /dev/null "$spool/$user"
}

dispatch() { # "$@" of the script: run the subcommand
    [[ $# -ge 1 ]] || usage
    [[ $(id -u) == 0 ]] || die "must run as root"
    local cmd=$1; shift
    case $cmd in
        start) [[ $# -eq 2 ]] || usage; cmd_start "$@" ;;
        seed)  [[ $# -ge 3 ]] || usage; cmd_seed "$@" ;;
        clear) [[ $# -eq 2 ]] || usage; cmd_clear "$@" ;;
        stop)  [[ $# -eq 1 ]] || usage; cmd_stop "$@" ;;
        *)     usage ;;
    esac
}

usage() {
    echo "usage: $ME start DIR PORT | seed DIR USER FILE... | clear DIR USER | stop DIR" >&2
    exit 2
}
