"""Operations: the daemon's heartbeat, the watchdog and its alert mails, /metrics, logs, `intake check`.

The daemon records after every round (fetch, process, send) whether it succeeded, in the
database's application settings, so the web process (/healthz, /metrics) reads the same
facts even when it runs apart from the daemon. docs/OPERATIONS.md describes it for IT.
"""
