"""SQLite schema and migrations, keyed by `PRAGMA user_version`.

Each migration is applied in its own transaction together with the new user_version, so a crash during a
migration leaves the previous version intact. A database newer than this code is refused, never downgraded.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the store-and-forward core
    """
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,            -- our message sequence number (MsgId = (this box, seq))
        dst INTEGER NOT NULL,               -- box address, or 4095 for a bulletin
        precedence INTEGER NOT NULL,
        content_type INTEGER NOT NULL DEFAULT 0,
        body BLOB NOT NULL,                 -- encoded content (wire.content)
        ttl_s INTEGER,                      -- as requested (NULL: the precedence's default)
        ttl_remaining_s REAL,               -- checkpoint of the countdown (monotonic, never wall time)
        state TEXT NOT NULL DEFAULT 'accepted',
        acked_frags TEXT NOT NULL DEFAULT '[]',
        pending TEXT,                       -- bulletin: JSON list of boxes without a receipt
        detail TEXT NOT NULL DEFAULT '',
        accepted_wall REAL NOT NULL,        -- for display only
        updated_wall REAL NOT NULL
    );
    CREATE INDEX outbox_state ON outbox(state);
    CREATE TABLE frames_sent (counter INTEGER PRIMARY KEY, seq INTEGER NOT NULL, frag_index INTEGER NOT NULL);
    CREATE INDEX frames_sent_seq ON frames_sent(seq);
    CREATE TABLE receipts (seq INTEGER NOT NULL, box INTEGER NOT NULL, wall REAL NOT NULL, PRIMARY KEY (seq, box));
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY,
        origin INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        dst INTEGER NOT NULL,
        precedence INTEGER NOT NULL,
        body BLOB NOT NULL,
        signature BLOB NOT NULL DEFAULT x'',
        link TEXT NOT NULL,
        received_wall REAL NOT NULL,
        read INTEGER NOT NULL DEFAULT 0,
        UNIQUE (origin, seq)
    );
    CREATE TABLE fragments (
        origin INTEGER NOT NULL, seq INTEGER NOT NULL, frag_index INTEGER NOT NULL, frag_count INTEGER NOT NULL,
        dst INTEGER NOT NULL, precedence INTEGER NOT NULL, ttl_s INTEGER NOT NULL, body BLOB NOT NULL,
        signature BLOB NOT NULL, PRIMARY KEY (origin, seq, frag_index)
    );
    CREATE TABLE custody (
        origin INTEGER NOT NULL, counter INTEGER NOT NULL, dst INTEGER NOT NULL, precedence INTEGER NOT NULL,
        raw BLOB NOT NULL, ttl_remaining_s REAL NOT NULL, from_hop INTEGER NOT NULL, taken_wall REAL NOT NULL,
        PRIMARY KEY (origin, counter)
    );
    CREATE TABLE custody_log (
        origin INTEGER NOT NULL, counter INTEGER NOT NULL, dst INTEGER NOT NULL, reason TEXT NOT NULL,
        wall REAL NOT NULL
    );
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters VALUES ('frame_reserved', 1), ('next_seq', 1);
    CREATE TABLE replay_windows (sender INTEGER PRIMARY KEY, window BLOB NOT NULL);
    CREATE TABLE peers (
        addr INTEGER NOT NULL, link TEXT NOT NULL, last_heard_wall REAL NOT NULL, snr REAL, rssi INTEGER,
        PRIMARY KEY (addr, link)
    );
    CREATE TABLE status (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE notices (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, text TEXT NOT NULL, wall REAL NOT NULL);
    """,
    # 2: who may acknowledge what (review items 8, 9, 13): the hop each of our frames went to, the custody
    # replay windows per origin, and short digests of recent frames per sender (replay vs restored sender)
    """
    ALTER TABLE frames_sent ADD COLUMN hop INTEGER;
    CREATE TABLE custody_windows (origin INTEGER PRIMARY KEY, window BLOB NOT NULL);
    CREATE TABLE frame_digests (sender INTEGER PRIMARY KEY, digests BLOB NOT NULL);
    """,
    # 3: the journaal (docs/journal.md): an append-only, hash-chained log of every message, state change,
    # operator action and service event, written in the transaction of the change it records; and the
    # signed heads. Never pruned with inbox/outbox.
    """
    CREATE TABLE journal (
        n INTEGER PRIMARY KEY,              -- position in the chain, 1, 2, 3, ...
        kind TEXT NOT NULL,                 -- nspgw.journal.chain.KINDS
        wall REAL NOT NULL,                 -- the wall clock when written, never rewritten (see `clock`)
        clock TEXT NOT NULL,                -- source of that wall time: ntp, gps, mesh, operator, unsync
        boot TEXT NOT NULL,                 -- boot id, from which `mono` counts
        mono REAL NOT NULL,                 -- CLOCK_MONOTONIC seconds
        actor TEXT NOT NULL,                -- who
        data TEXT NOT NULL,                 -- JSON details
        prev TEXT NOT NULL,                 -- hash of entry n-1
        hash TEXT NOT NULL                  -- SHA-256 of this entry's canonical form (nspgw.journal.chain)
    );
    CREATE INDEX journal_unsync ON journal(boot, n) WHERE clock = 'unsync';
    CREATE INDEX journal_kind ON journal(kind);
    CREATE INDEX journal_wall ON journal(wall);
    CREATE TABLE journal_heads (
        n INTEGER PRIMARY KEY, hash TEXT NOT NULL, signature TEXT NOT NULL, wall REAL NOT NULL
    );
    """,
    # 4: the newest roster (with its proof) and network-key epoch this box has used (issue 15): restoring an
    # older roster.json or network.key from a backup must not un-revoke a stolen box
    """
    CREATE TABLE IF NOT EXISTS key_floor (name TEXT PRIMARY KEY, value INTEGER NOT NULL, data TEXT NOT NULL);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
