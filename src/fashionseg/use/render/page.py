"""Markdown to one self-contained HTML page (figures embedded), for the subset reports use."""

from __future__ import annotations

import base64
import html
from pathlib import Path


def one_line(text) -> str:
    """User-given text (a path, a search choice, an error) made safe for one Markdown line or
    table cell: no line breaks (a line of its own could read as a figure) and no ``|``."""
    return " ".join(str(text).split()).replace("|", "/")


def to_html(md: str, fig_dir: Path, title: str = "fashionseg study report", figures=()) -> str:
    """A small Markdown-to-HTML for the subset this report uses, with figures embedded.

    Only the figures the command made are embedded: ``figures`` names them (files in
    ``fig_dir``); any other image line is shown as text, so text a user gave can never pull a
    file of the machine into a report that is passed around.
    """
    made = {Path(f).name for f in figures}
    root = fig_dir.resolve()
    import re

    body, table = [], []

    def inline(text: str) -> str:
        text = html.escape(text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", text)

    def flush_table() -> None:
        if table:
            head, *rest = [
                [c.strip() for c in r.strip("|").split("|")]
                for r in table
                if not r.startswith("|---") and "--- |" not in r
            ]
            body.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr>")
            body.extend(
                "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in rest
            )
            body.append("</table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        m = re.fullmatch(r"!\[(.*)\]\(figures/([^/\\]+)\)", line)
        if m and m.group(2) in made and (root / m.group(2)).resolve().parent == root:
            data = base64.b64encode((fig_dir / m.group(2)).read_bytes()).decode()
            body.append(
                f'<figure><img alt="{html.escape(m.group(1))}" src="data:image/png;base64,{data}"></figure>'
            )
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<li>{inline(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{inline(line)}</p>")
    flush_table()
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "th{background:#f0f3f8}td:nth-child(-n+5){text-align:left}img{max-width:100%;border:1px solid #eee}"
    )
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style></head><body>{''.join(body)}</body></html>"
