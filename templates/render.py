"""Rendering the memo: one Jinja2 environment, Dutch filters, StrictUndefined, overrides.

`--template DIR` puts DIR before the built-in templates, so an organisation overrides a
template by giving a file of the same name (e.g. only `letterhead.html.j2`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from templates.dutch import FILTERS
from transfers.errors import InvalidValue

BUILT_IN = Path(__file__).resolve().parent
TEMPLATES = {"html": "memo.html.j2", "md": "memo.md.j2", "svg": "chart.svg.j2"}


def markdown_text(value: Any) -> str:
    """Text safe inside Markdown (and the HTML a Markdown viewer makes of it)."""
    text = str(value)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, entity)
    return text.replace("|", "\\|").replace("\n", " ")


def environment(template_dir: Path | None = None) -> jinja2.Environment:
    """The memo's Jinja environment; HTML templates are autoescaped, Markdown ones use |md."""
    search = [str(template_dir)] if template_dir else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*search, str(BUILT_IN)]),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html", "svg.j2")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.filters["md"] = markdown_text
    return env


def render(view: Any, fmt: str, template_dir: Path | None = None, **extra: Any) -> str:
    """Render the memo view-model as `html` or `md`; a broken template is one clear error."""
    if template_dir is not None and not template_dir.is_dir():
        raise InvalidValue(f"--template {template_dir}: not a folder of templates")
    env = environment(template_dir)
    try:
        return env.get_template(TEMPLATES[fmt]).render(m=view, **extra)
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or "template"
        raise InvalidValue(f"{where}:{exc.lineno}: template error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        where = _template_frame(exc)
        raise InvalidValue(f"{where}template error: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise InvalidValue(f"template {exc.name} not found in {template_dir or BUILT_IN}") from None


def _template_frame(exc: BaseException) -> str:
    """'file:line: ' of the innermost template frame in the traceback, if any."""
    tb, found = exc.__traceback__, ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or filename.endswith(".css"):
            found = f"{filename}:{tb.tb_lineno}: "
        tb = tb.tb_next
    return found
