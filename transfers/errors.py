"""Domain errors. Each message is the one sentence a caseworker reads."""


class ZovError(Exception):
    """Base of every refusal the tracker explains to its user (exit code 1)."""


class StepNotAllowed(ZovError):
    """The path or place is not in a stage where this step can happen."""


class UnknownValue(ZovError):
    """A value (gemeente, combinatie, hulpvorm, ...) is not in the plan."""


class InvalidValue(ZovError):
    """A value is malformed or not allowed (a BSN as reference, a date in the future, ...)."""


class NotFound(ZovError):
    """No client path or place with that reference."""


class Ambiguous(ZovError):
    """A reference has several paths and the command did not say which."""


class AlreadyExists(ZovError):
    """A path or place with that reference is already registered."""


class ChangedMeanwhile(ZovError):
    """Someone else kept changing the same stream; the caller may try again."""


class StoreError(ZovError):
    """The store cannot be opened or used (bad URL, unreachable server, not a zov store)."""


# What a command that ran out of memory says (the second process of a rebuild sends it too),
# and its advice, which a store's own "out of memory" gets as well.
MORE_MEMORY = "close other programs or run it on a machine with more memory"
OUT_OF_MEMORY = f"out of memory: the command stopped and changed nothing; {MORE_MEMORY}"


def out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` says the process ran out of memory: a MemoryError, or what Python raises
    when memory for a thread's stack (a PostgreSQL store's connection pool starts three) or
    for mapping a compiled module that is imported late cannot be had, or what SQLite says
    (also as the cause of the event store's own error) when it could not get memory, or could
    not map a file (its write-ahead log's shared index) while this process has almost no
    room left."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    if isinstance(exc, RuntimeError):
        return text == "can't start new thread"
    if isinstance(exc, ImportError):  # the dynamic loader's words, errno text or none
        return text.endswith("failed to map segment from shared object") or (
            "Cannot allocate memory" in text)
    cause = exc.__cause__
    return _sqlite_out_of_memory(exc) or (cause is not None and _sqlite_out_of_memory(cause))


# Room left (bytes) under which SQLite failing to map a file is put down to memory: the
# mapping it asks for is 32 KB; a file system that cannot map files fails with room to spare.
MAPPING_ROOM = 16 << 20


def _sqlite_out_of_memory(exc: BaseException) -> bool:
    name = getattr(exc, "sqlite_errorname", None)  # SQLite's own code (Python 3.11 on)
    if name == "SQLITE_IOERR_NOMEM":
        return True
    if name in ("SQLITE_IOERR_SHMMAP", "SQLITE_IOERR_MMAP"):
        from transfers.memory import shortfall

        return shortfall(MAPPING_ROOM) is not None
    return False
