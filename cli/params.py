"""Click parameter types and option bundles shared by the commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from transfers.dates import parse_date, parse_moment
from transfers.errors import ZovError
from transfers.vocab import Word


class DateParam(click.ParamType):
    """A date as caseworkers write it: 2023-07-31, 31-7-2023 or 31-07-2023."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if not isinstance(value, str):
            return value
        try:
            return parse_date(value)
        except ZovError as exc:
            self.fail(str(exc), param, ctx)


class MomentParam(click.ParamType):
    """A recording time: a date (its end), or date and time; UTC unless an offset is given."""

    name = "TIMESTAMP"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, datetime):
            return value
        try:
            return parse_moment(value)
        except ZovError as exc:
            self.fail(str(exc), param, ctx)


MOMENT = MomentParam()


class WordParam(click.ParamType):
    """One of a domain enum's words (or its Dutch label), any case."""

    def __init__(self, enum: type[Word]) -> None:
        self.enum = enum
        self.name = "|".join(m.value for m in enum)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, self.enum):
            return value
        try:
            return self.enum.parse(value)
        except ZovError as exc:
            self.fail(str(exc), param, ctx)


DATE = DateParam()


class OutputFile(click.Path):
    """A file to write: not a folder, and not an empty name."""

    name = "file"

    def __init__(self) -> None:
        super().__init__(dir_okay=False, writable=True, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if not str(value).strip():
            self.fail("an empty name; name the file to write", param, ctx)
        return super().convert(value, param, ctx)


OUTPUT = OutputFile()

FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]),
                      default="table", show_default=True,
                      help="table for people; json or csv for scripts")


def recorded_options(dated: bool = True,
                     on_default: str = "today") -> Callable[[Callable], Callable]:
    """--on (effective date), --by (who records) and --note, common to every event command."""

    def decorate(f: Callable) -> Callable:
        f = click.option("--note", help="free text riding on the event (no names, no BSN)")(f)
        f = click.option("--by", envvar="ZOV_ACTOR", default=None,
                         help="who records this [default: $ZOV_ACTOR or your login name]")(f)
        if dated:
            f = click.option("--on", type=DATE, default=None,
                             help=f"date it happened [default: {on_default}]")(f)
        return f

    return decorate


def hulpvorm_option(f: Callable) -> Callable:
    return click.option("--hulpvorm", "-H",
                        help="care type; needed only when REF has paths for several")(f)
