"""The monthly memo: its numbers, its bytes, its reproducibility, its templates."""

import os
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from projections import ReadModels
from projections import queries as q
from projections.memo import build_memo
from templates.render import render
from tests.projections.memo_history import record_history
from transfers.errors import InvalidValue
from transfers.vocab import Outcome

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
# The one line that holds recording times, which differ from run to run.
_RECORDED = re.compile(r"(vastgelegde gebeurtenis die meetelt is van ).*?(\.|$)|"
                       r"(--as-known-at )\S+?Z", re.MULTILINE)


def masked(text: str) -> str:
    return _RECORDED.sub(lambda m: (m.group(1) or m.group(3)) + "<recorded>", text)


@pytest.fixture
def history(tracker):
    record_history(tracker)
    return tracker


def memo_text(tracker, month="2023-09", fmt="html", **kw) -> str:
    with ReadModels(tracker) as rm:
        view = build_memo(rm, month, kw.pop("as_known_at", None))
    return render(view, fmt, chart_src="chart.svg", **kw)


def test_the_memo_numbers_are_the_projections_numbers(history):
    with ReadModels(history) as rm:
        view = build_memo(rm, "2023-09")
        counts = q.counts(rm, date(2023, 9, 30))
        compliance = q.compliance(rm, date(2023, 9, 30))
    assert view.as_of == date(2023, 9, 30) and view.previous_as_of == date(2023, 8, 31)
    for row, expected in zip(view.stages, counts.per_hulpvorm, strict=True):
        assert row.hulpvorm == expected.hulpvorm
        assert row.counts == (expected.registered, expected.triaged, expected.assigned,
                              expected.handed_over, expected.closed)
        assert row.total == expected.total and row.open == expected.open
    assert view.stage_total.total == counts.total.total == 7
    mkd, db, ech = view.stages
    assert (mkd.closed, mkd.handed_over, mkd.open) == (2, 1, 1)  # C-01 transferred, C-02 education
    assert (ech.handed_over, ech.counts[1]) == (1, 1)  # C-06 handed over, C-07 re-triaged
    # The summary's numbers add up as a reader adds them: closed + open = total.
    assert view.summary[0] == ("Van de 3 MKD-cliënten zijn er per 30 september 2023 2 afgesloten, "
                               "van wie 1 na een warme overdracht; 1 pad loopt nog.")
    assert view.summary[2].endswith("nog geen afgesloten; 2 paden lopen nog, waarvan 1 al warm "
                                    "overgedragen.")
    for line, row in zip(view.summary, view.stages, strict=False):
        closed, still_open = re.search(r"(\d+|geen) afgesloten.*; (\d+) pad", line).groups()
        assert int(closed.replace("geen", "0")) + int(still_open) == row.total
    assert view.compliance_total.at_risk == compliance.total.at_risk == 2
    assert {(r.ref, r.reasons) for r in view.at_risk} == {
        ("C-03", "arrangement loopt door na de deadline, nog niet getrieerd"),
        ("C-05", "overdracht gepland na de deadline")}
    # September: C-01 handed over and closed, C-06 handed over
    assert [c.handed_over for c in view.changes] == [1, 0, 1]
    assert view.changes[0].deltas == (0, 0, -1, 0, 1)
    assert view.places_total.transferred == 1 and view.places_total.decided == 1
    assert view.places_total.kept == 1 and view.places_capacity == 58 and view.places_keep == 30
    assert [(c.combinatie, c.total) for c in view.combinaties] == [
        ("Zorgcoöperatie Limburg", 1), ("Kracht van Dichtbij", 1), ("ECLG", 1)]
    mkd_line = view.chart.lines[0]
    assert mkd_line.name == "MKD" and mkd_line.end_value == 1


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_the_memo_matches_its_golden_file(history, fmt):
    text = masked(memo_text(history, fmt=fmt))
    golden = GOLDEN / f"memo-2023-09.{fmt}"
    if os.environ.get("ZOV_UPDATE_GOLDEN"):
        golden.write_text(text, "utf-8")
    assert text == golden.read_text("utf-8")


def test_the_same_store_and_arguments_give_the_same_bytes(history):
    assert memo_text(history) == memo_text(history)


def test_as_known_at_gives_the_memo_as_it_was_sent(history):
    sent = memo_text(history)
    moment = re.search(r"--as-known-at (\S+?Z)", sent).group(1)
    # logged late: a September handover recorded after the memo went out
    history.assign("C-07", "ECLG", "late", on=date(2023, 9, 15))
    history.hand_over("C-07", "late", on=date(2023, 9, 25))
    now = memo_text(history)
    assert now != sent
    from transfers.dates import parse_moment

    assert memo_text(history, as_known_at=parse_moment(moment)) == sent


def test_html_from_the_plan_or_data_is_escaped(history):
    text = history.plan_record().text.replace(
        'name = "Afbouw XONAR Zuid-Limburg 2023"', 'name = "<script>alert(1)</script> plan"')
    history.adopt_plan(text, "evil.toml", "tester", revise=True)
    html = memo_text(history)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; plan" in html
    assert "<script" not in html.lower()  # notes never reach the memo
    assert "&lt;script&gt;alert(1)&lt;/script&gt; plan" in memo_text(history, fmt="md")


def test_a_month_before_the_peildatum_is_refused(history):
    with ReadModels(history) as rm, pytest.raises(InvalidValue, match="before the plan's peildatum"):
        build_memo(rm, "2023-02")
    with ReadModels(history) as rm, pytest.raises(InvalidValue, match="write it as 2023-09"):
        build_memo(rm, "september")


def test_the_cli_writes_the_memo_and_its_chart(history, store_url, tmp_path):
    runner = CliRunner()
    out = tmp_path / "voortgang.md"
    result = runner.invoke(cli, ["--db", store_url, "memo", "2023-09", "--format", "md",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text("utf-8")
    assert "![Open paden per hulpvorm" in text and "(voortgang.svg)" in text
    assert (tmp_path / "voortgang.svg").read_text("utf-8").startswith("<?xml")
    html = runner.invoke(cli, ["--db", store_url, "memo", "2023-09"]).output
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html


def test_a_template_folder_overrides_by_name_and_bad_templates_say_where(history, store_url,
                                                                          tmp_path):
    own = tmp_path / "huisstijl"
    own.mkdir()
    (own / "letterhead.html.j2").write_text('<div class="letterhead">Gemeente Testdorp</div>\n')
    runner = CliRunner()
    ok = runner.invoke(cli, ["--db", store_url, "memo", "2023-09", "--template", str(own)])
    assert ok.exit_code == 0 and "Gemeente Testdorp" in ok.output
    (own / "letterhead.html.j2").write_text("<div>\n{% if %}\n</div>\n")
    bad = runner.invoke(cli, ["--db", store_url, "memo", "2023-09", "--template", str(own)])
    assert bad.exit_code == 1
    assert re.search(r"letterhead\.html\.j2:2: template error", bad.stderr), bad.stderr
    (own / "letterhead.html.j2").write_text("<div>{{ m.no_such_field }}</div>\n")
    bad = runner.invoke(cli, ["--db", store_url, "memo", "2023-09", "--template", str(own)])
    assert bad.exit_code == 1 and "no_such_field" in bad.stderr
    assert "letterhead.html.j2:1" in bad.stderr


def test_a_triage_still_open_shows_in_the_memo_counts(history):
    history.register("C-08", "DB Xtra", "Stein", "tester")
    history.triage("C-08", Outcome.TRANSFER, "tester", on=date(2023, 9, 10))
    with ReadModels(history) as rm:
        view = build_memo(rm, "2023-09")
    assert view.stages[1].counts[1] == 1 and view.changes[1].deltas[1] == 1
