"""Fault injection for proving the engine's promises: a PostgreSQL wire-protocol proxy that
loses replies after the server acted on them and freezes links (:mod:`.pgproxy`).

It lives in the library, not only in the test suite, because ``harmony bench chaos`` runs it
against whatever database the operator points it at, so the exactly-once figures can be
reproduced on their own PostgreSQL or YugabyteDB.
"""
