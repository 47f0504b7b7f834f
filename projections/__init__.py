"""Read models: SQL tables folded from the event log, and the queries on them."""
