"""The operators' web console: inbox with FLASH alarm, forms, outbox, board of posts, box health.

A thin adapter like the CLI: it reads the store, writes through the same calls as `nspgw send` and learns of
changes by reading the store the daemon writes. Started by the daemon when `[console] enabled = true`."""
