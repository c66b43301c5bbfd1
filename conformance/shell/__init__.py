"""``pop3-conformance shell``: a telnet-like POP3 session that judges every answer.

The modules, in the order a typed line meets them:

- :mod:`~conformance.shell.editor`: where lines come from (a terminal with
  editing, history, completion and masked secrets, or a script on stdin);
- :mod:`~conformance.shell.app`: the loop that carries a line out;
- :mod:`~conformance.shell.meta`: the ``:`` meta-commands and their views;
- :mod:`~conformance.shell.sessions`: the named sessions and their models;
- :mod:`~conformance.shell.mailbox`: what is known of the mailboxes (seeded or learned);
- :mod:`~conformance.shell.judge`: the checks made of each answer;
- :mod:`~conformance.shell.render`: what is printed;
- :mod:`~conformance.shell.credentials`: masking secrets, and placeholders for them;
- :mod:`~conformance.shell.recorder`: the session written as a scenario file.
"""
