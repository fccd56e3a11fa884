"""The journaal: an append-only, hash-chained, signed communications log per box (docs/journal.md).

`chain` is pure (canonical form, hashes, verification); `nspgw.store.journal` writes and reads the rows in
the store's transactions; `export`, `pdf` and `merge` turn entries into files for the crisis team.
"""
