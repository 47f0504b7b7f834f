"""`zov memo`: the monthly progress memo for the councils, in Dutch."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from cli.main import Session, cli, pass_session
from cli.params import MOMENT, OUTPUT
from cli.reports import answers, read_models


def _write_atomically(path: Path, text: str) -> None:
    """Write the whole file or nothing: a temporary file in the same folder, then rename."""
    import tempfile  # (here: every read command loads this module to find its command)

    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None


@cli.command()
@click.argument("month", metavar="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html",
              show_default=True, help="self-contained HTML (mail it, print to PDF) or Markdown")
@click.option("-o", "--output", type=OUTPUT,
              help="file to write [default: standard output]")
@click.option("--as-known-at", type=MOMENT,
              help="count only events recorded by then: the memo as it was sent")
@click.option("--template", "template_dir", type=click.Path(path_type=Path),
              help="folder with templates overriding the built-in ones by name")
@click.option("--stamp", is_flag=True,
              help="print the moment of rendering in the memo (makes it non-reproducible)")
@pass_session
@answers
def memo(session: Session, month: str, fmt: str, output: Path | None, as_known_at,
         template_dir: Path | None, stamp: bool) -> None:
    """Render the progress memo for a month, counted as of its last day.

    The same store and arguments give the same bytes. The memo ends with the command that
    reproduces it exactly, later, with --as-known-at.

    \b
    Example:
      zov memo 2023-09 -o voortgang-2023-09.html
      zov memo 2023-09 --format md -o voortgang-2023-09.md
      zov memo 2023-09 --as-known-at "2023-10-05 12:00" --template ./huisstijl
    """
    from projections.memo import build_memo
    from templates.render import render

    view = build_memo(read_models(session), month, as_known_at,
                      stamp=datetime.now(UTC) if stamp else None)
    extra = {}
    if fmt == "md":
        svg = render(view, "svg", template_dir)
        if output is not None:
            chart = output.with_suffix(".svg")
            _write_atomically(chart, svg)
            extra["chart_src"] = chart.name
        else:
            import base64

            extra["chart_src"] = "data:image/svg+xml;base64," + base64.b64encode(
                svg.encode("utf-8")).decode("ascii")
    text = render(view, fmt, template_dir, **extra)
    if output is None:
        click.echo(text, nl=False)
    else:
        _write_atomically(output, text)
        click.echo(f"memo {view.month:%Y-%m} written to {output}", err=True)
