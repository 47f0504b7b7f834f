"""Read models: SQL tables folded from the event log, and the queries on them.

    from projections import ReadModels
    from projections import queries

    with ReadModels(tracker) as rm:      # opens the tables, catches up with the log
        report = queries.counts(rm, as_of=date(2023, 9, 30), by="gemeente")

Answering loads only the database drivers the event store uses; SQLAlchemy (the table
definitions, projections.schema) is loaded to create, drop or rebuild the tables.
"""

from projections.readmodels import ReadModels

__all__ = ["ReadModels"]
