"""A plan that remembers what each typed name matched, for runs of thousands of commands.

Matching a name against the plan normalises every candidate on each call; a bulk import asks
the same few questions ("Stein", "MKD") hundreds of thousands of times. The plan never changes
during a run, so each answer (or refusal) is worked out once, by the plan's own method.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from transfers.errors import ZovError
from transfers.plan import Plan

_MATCHERS = ("hulpvorm", "gemeente", "combinatie", "aanbieder", "arrangement", "cohort",
             "leefhuis")


@dataclass(frozen=True, eq=False)
class RememberingPlan(Plan):
    """The same plan; its name lookups answered from memory after the first time."""

    @classmethod
    def of(cls, plan: Plan) -> RememberingPlan:
        if isinstance(plan, cls):
            return plan
        return cls(**{f.name: getattr(plan, f.name) for f in fields(plan)})

    def _remembered(self, name: str, args: tuple[Any, ...]) -> Any:
        memo = self.__dict__.setdefault("_memo", {})
        try:
            found, value = memo[name, args]
        except KeyError:
            try:
                found, value = True, getattr(Plan, name)(self, *args)
            except ZovError as exc:
                found, value = False, exc
            memo[name, args] = found, value
        if found:
            return value
        raise type(value)(*value.args)


def _remembering(name: str) -> Any:
    def lookup(self: RememberingPlan, *args: Any) -> Any:
        return self._remembered(name, args)

    lookup.__name__ = name
    lookup.__doc__ = getattr(Plan, name).__doc__
    return lookup


for _name in _MATCHERS:
    setattr(RememberingPlan, _name, _remembering(_name))
