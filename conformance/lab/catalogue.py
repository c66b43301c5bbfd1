"""The six servers of the lab: what each needs installed, and the ways in it opens.

Dovecot and GNU Mailutils are apt-installed; Cyrus, Courier, popa3d and
solid-pop3d are unpacked under ``LAB_ROOT`` by .ci/install-servers.sh (their
packages conflict with the first two).  Dovecot can also open LMTP and IMAP
listeners, Cyrus LMTP, for the provisioners that go through the mail system.

What each one offers, as found by experiment on Debian 12's builds:

============  ===========================  ======================================
server        STLS and implicit TLS        APOP
============  ===========================  ======================================
Dovecot       yes                          yes (plaintext passdb); erin APOP-only
Mailutils     yes (GnuTLS)                 yes (popauth database); erin APOP-only
Cyrus         yes (pop3d -s)               yes (allowapop, sasldb): erin takes
                                           USER/PASS too, one secret for both
Courier       yes (couriertls)             no: no timestamp, APOP unknown
popa3d        no                           no (left out by design)
solid-pop3d   no                           yes (~/.spop3d secret); erin APOP-only
============  ===========================  ======================================
"""

from __future__ import annotations

from conformance.lab.servers import LAB_ROOT, LabServer

DOVECOT = LabServer(
    name="dovecot",
    script="dovecot.sh",
    executables=(
        "/usr/sbin/dovecot",
        "/usr/bin/doveadm",
        "/usr/lib/dovecot/pop3",  # dovecot-pop3d; dovecot-core alone has no POP3
        "/usr/lib/dovecot/pop3-login",
    ),
    # "mail" owns the mail files; dovecot/dovenull run auth and login processes.
    system_users=("mail", "dovecot", "dovenull"),
    maildir="mail/{user}/Maildir",
    tls_ca="etc/tls/ca.pem",
    apop=True,
    listeners={
        "lmtp": ("/usr/lib/dovecot/lmtp",),  # dovecot-lmtpd
        "imap": ("/usr/lib/dovecot/imap", "/usr/lib/dovecot/imap-login"),  # dovecot-imapd
    },
)

MAILUTILS = LabServer(
    name="mailutils",
    script="mailutils.sh",
    executables=("/usr/sbin/pop3d",),  # mailutils-pop3d
    system_users=(),
    # openssl: SHA-512 crypt hashes for the virtdomain passwd file, and the
    # certificates; popauth (mailutils-pop3d): the APOP database.
    tools=("openssl", "popauth"),
    tls_ca="etc/tls/ca.pem",
    apop=True,
)

_CYRUS_BIN = LAB_ROOT / "cyrus/usr/lib/cyrus/bin"
CYRUS = LabServer(
    name="cyrus",
    script="cyrus.sh",
    executables=tuple(
        str(_CYRUS_BIN / exe) for exe in ("master", "pop3d", "lmtpd", "deliver", "ipurge")
    ),
    system_users=(),  # the script creates "cyrus" (group mail) if missing
    tools=("saslpasswd2", "nsenter", "unshare", "openssl"),
    mount_namespace=True,
    listeners={"lmtp": (str(_CYRUS_BIN / "lmtpd"),)},
    tls_ca="ns/tls/ca.pem",
    apop=True,
)

_COURIER = LAB_ROOT / "courier"
COURIER = LabServer(
    name="courier",
    script="courier.sh",
    executables=(
        str(_COURIER / "usr/sbin/couriertcpd"),
        str(_COURIER / "usr/lib/courier/courier/courierpop3login"),
        str(_COURIER / "usr/lib/courier/courier/courierpop3d"),
        str(_COURIER / "usr/lib/courier/courier-authlib/authdaemond"),
        str(_COURIER / "usr/bin/deliverquota.courier"),
        str(_COURIER / "usr/bin/couriertls"),
    ),
    # The virtual users' mail belongs to "mail"; the script makes "courier"
    # (couriertls runs as that user) if missing.
    system_users=("mail",),
    tools=("openssl", "perl", "nsenter", "unshare", "useradd"),
    mount_namespace=True,
    tls_ca="ns/tls/ca.pem",
)

# popa3d and solid-pop3d are inetd-style: socat listens and is the master.
# Both check passwords through PAM, so their scripts create the four accounts
# as system users (and popa3d's / solid's own privilege-separation user).
POPA3D = LabServer(
    name="popa3d",
    script="popa3d.sh",
    executables=(str(LAB_ROOT / "popa3d/usr/sbin/popa3d"),),
    system_users=(),
    tools=("socat", "useradd", "chpasswd", "unshare"),
    mount_namespace=True,
)

SOLIDPOP3D = LabServer(
    name="solidpop3d",
    script="solidpop3d.sh",
    executables=(str(LAB_ROOT / "solidpop3d/usr/sbin/solid-pop3d"),),
    system_users=(),
    tools=("socat", "useradd", "usermod", "chpasswd", "unshare"),
    mount_namespace=True,
    apop=True,
)

LAB_SERVERS: dict[str, LabServer] = {
    server.name: server for server in (DOVECOT, MAILUTILS, CYRUS, COURIER, POPA3D, SOLIDPOP3D)
}
