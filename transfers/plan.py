"""The phase-out plan (afbouwplan): care types, deadlines, municipalities, receiving parties.

The plan is data: a TOML file, adopted into the store by `zov init`. This module parses and
checks it, and matches what a caseworker types against its canonical names.
"""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from transfers.errors import InvalidValue, UnknownValue
from transfers.vocab import squash

DEFAULT_PLAN = "zuid-limburg-2023.toml"


@dataclass(frozen=True)
class Hulpvorm:
    code: str
    name: str
    deadline: date
    clients: int | None = None
    arrangements: tuple[str, ...] = ()
    cohorts: tuple[str, ...] = ()
    combinaties: tuple[str, ...] = ()  # empty: any combinatie of the plan


@dataclass(frozen=True)
class Combinatie:
    name: str
    kind: str = ""
    providers: int | None = None
    penvoerder: str | None = None
    aanbieders: tuple[str, ...] = ()


@dataclass(frozen=True)
class Leefhuis:
    name: str
    places: int


@dataclass(frozen=True)
class RiskRules:
    """When an open path counts as at risk before its deadline."""

    no_receiver_weeks: int = 8
    planned_after_deadline: bool = True
    arrangement_past_deadline_untriaged: bool = True


@dataclass(frozen=True)
class Plan:
    name: str
    region: str
    provider: str
    peildatum: date
    deadline: date
    hulpvormen: tuple[Hulpvorm, ...]
    gemeenten: dict[str, str]  # gemeente -> subregio
    combinaties: tuple[Combinatie, ...]
    leefhuizen: tuple[Leefhuis, ...] = ()
    leefhuis_capacity: int = 0
    leefhuis_keep: int = 0
    risk: RiskRules = field(default_factory=RiskRules)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)

    # -- matching what people type -------------------------------------------------------

    def hulpvorm(self, text: str) -> Hulpvorm:
        """The care type named by `text` (code or name, any case, accents optional)."""
        by_key = {}
        for h in self.hulpvormen:
            by_key[_key(h.code)] = h
            by_key[_key(h.name)] = h
        return _match(text, by_key, self.aliases.get("hulpvorm", {}), "hulpvorm",
                      [h.code for h in self.hulpvormen], lambda c: by_key[_key(c)])

    def gemeente(self, text: str) -> str:
        """The canonical name of the municipality named by `text`."""
        by_key = {_key(g): g for g in self.gemeenten}
        return _match(text, by_key, self.aliases.get("gemeente", {}), "gemeente",
                      list(self.gemeenten), lambda c: by_key[_key(c)])

    def combinatie(self, text: str, hulpvorm: Hulpvorm | None = None) -> Combinatie:
        """The receiving combination named by `text`; refused if the care type excludes it."""
        by_key = {_key(c.name): c for c in self.combinaties}
        found = _match(text, by_key, self.aliases.get("combinatie", {}), "combinatie",
                       [c.name for c in self.combinaties], lambda c: by_key[_key(c)])
        if hulpvorm and hulpvorm.combinaties and found.name not in hulpvorm.combinaties:
            raise UnknownValue(
                f"combinatie '{found.name}' does not receive {hulpvorm.code} in this plan; "
                f"use one of: {', '.join(hulpvorm.combinaties)}"
            )
        return found

    def aanbieder(self, text: str, combinatie: Combinatie) -> str:
        """A provider within a combinatie: canonical if the plan knows it, else as typed.

        The source documents name only a few members of each combinatie, so unknown
        names are accepted (stripped) rather than refused.
        """
        cleaned = " ".join(text.split())
        if not cleaned:
            raise InvalidValue("aanbieder is empty; leave the option out instead")
        for known in combinatie.aanbieders:
            if _key(known) == _key(cleaned):
                return known
        return cleaned

    def arrangement(self, text: str, hulpvorm: Hulpvorm) -> str:
        """An arrangement of this care type (any arrangement if the plan lists none)."""
        if not hulpvorm.arrangements:
            return " ".join(text.split())
        by_key = {_key(a): a for a in hulpvorm.arrangements}
        return _match(text, by_key, {}, f"arrangement for {hulpvorm.code}",
                      list(hulpvorm.arrangements), lambda c: by_key[_key(c)])

    def cohort(self, text: str, hulpvorm: Hulpvorm) -> str:
        """A cohort of this care type (any cohort if the plan lists none)."""
        if not hulpvorm.cohorts:
            return " ".join(text.split())
        by_key = {_key(c): c for c in hulpvorm.cohorts}
        return _match(text, by_key, {}, f"cohort for {hulpvorm.code}",
                      list(hulpvorm.cohorts), lambda c: by_key[_key(c)])

    def leefhuis(self, text: str) -> Leefhuis:
        """The Leefhuis named by `text`."""
        by_key = {_key(lh.name): lh for lh in self.leefhuizen}
        return _match(text, by_key, {}, "leefhuis", [lh.name for lh in self.leefhuizen],
                      lambda c: by_key[_key(c)])

    def subregio(self, gemeente: str) -> str:
        return self.gemeenten[gemeente]


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return squash("".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _match(text, by_key, aliases, noun, valid, resolve):
    key = _key(text)
    if key in by_key:
        return by_key[key]
    for alias, canonical in aliases.items():
        if _key(alias) == key:
            return resolve(canonical)
    raise UnknownValue(f"unknown {noun} '{text}'; use one of: {', '.join(valid)}")


# -- loading --------------------------------------------------------------------------------


def default_plan_text() -> str:
    """The built-in Zuid-Limburg 2023 plan, as TOML text."""
    from importlib import resources  # here: it loads tempfile, shutil and more

    return resources.files("transfers.plans").joinpath(DEFAULT_PLAN).read_text("utf-8")


def parse_plan(text: str, source: str = "plan") -> Plan:
    """Parse and check a plan; any problem is one InvalidValue naming the file and the field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(f"{source}: not valid TOML ({exc})") from None
    try:
        return _build_plan(raw)
    except (KeyError, TypeError, ValueError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InvalidValue(f"{source}: {what}; see the built-in plan (zov init --show-plan)") from None


def _dates(*values: Any) -> None:
    for v in values:
        if not isinstance(v, date):
            raise TypeError(f"'{v}' must be a date written as 2023-12-31")


def _build_plan(raw: dict[str, Any]) -> Plan:
    head = raw["plan"]
    _dates(head["peildatum"], head["deadline"])
    hulpvormen = tuple(
        Hulpvorm(
            code=h["code"],
            name=h.get("name", h["code"]),
            deadline=h.get("deadline", head["deadline"]),
            clients=h.get("clients"),
            arrangements=tuple(h.get("arrangements", ())),
            cohorts=tuple(h.get("cohorts", ())),
            combinaties=tuple(h.get("combinaties", ())),
        )
        for h in raw["hulpvorm"]
    )
    for h in hulpvormen:
        _dates(h.deadline)
    gemeenten = {g: s["name"] for s in raw["subregio"] for g in s["gemeenten"]}
    combinaties = tuple(
        Combinatie(
            name=c["name"],
            kind=c.get("kind", ""),
            providers=c.get("providers"),
            penvoerder=c.get("penvoerder"),
            aanbieders=tuple(c.get("aanbieders", ())),
        )
        for c in raw.get("combinatie", ())
    )
    names = {c.name for c in combinaties}
    for h in hulpvormen:
        unknown = [c for c in h.combinaties if c not in names]
        if unknown:
            raise ValueError(f"hulpvorm {h.code} names unknown combinaties {unknown}")
    aliases = {kind: dict(table) for kind, table in raw.get("aliases", {}).items()}
    for kind, table in aliases.items():
        known = {"gemeente": gemeenten, "combinatie": names,
                 "hulpvorm": {h.code for h in hulpvormen}}.get(kind)
        if known is None:
            raise ValueError(f"aliases.{kind}: only gemeente, combinatie, hulpvorm have aliases")
        bad = [v for v in table.values() if v not in known]
        if bad:
            raise ValueError(f"aliases.{kind} point to unknown names {bad}")
    places = raw.get("leefhuizen", {})
    leefhuizen = tuple(Leefhuis(lh["name"], int(lh["places"])) for lh in raw.get("leefhuis", ()))
    return Plan(
        name=head["name"],
        region=head.get("region", ""),
        provider=head.get("provider", ""),
        peildatum=head["peildatum"],
        deadline=head["deadline"],
        hulpvormen=hulpvormen,
        gemeenten=gemeenten,
        combinaties=combinaties,
        leefhuizen=leefhuizen,
        leefhuis_capacity=int(places.get("capacity", sum(lh.places for lh in leefhuizen))),
        leefhuis_keep=int(places.get("keep", 0)),
        risk=RiskRules(**raw.get("risk", {})),
        aliases=aliases,
    )
