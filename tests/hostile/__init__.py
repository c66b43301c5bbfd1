"""The hostile-server tests: a misbehaving POP3 server and the harness run against it."""
