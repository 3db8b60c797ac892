"""Pure domain code: no framework, no database, no I/O."""
