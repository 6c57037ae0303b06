"""Rendering report blocks: Markdown, and a self-contained HTML page (figures inlined).

A block is a tuple: ("h", level, text), ("p", text), ("table", header, rows), ("img", name,
caption), ("pre", text) or ("raw", markdown)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

from symtune.analysis.tables import markdown_table

Block = tuple[Any, ...]


def markdown(blocks: list[Block], figures_dir: Path = Path()) -> str:
    out = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            out.append("#" * block[1] + " " + block[2])
        elif kind == "p":
            out.append(block[1])
        elif kind == "table":
            out.append(markdown_table(block[1], block[2]))
        elif kind == "img":
            out.append(f"![{block[2]}]({(figures_dir / block[1]).as_posix()}.png)")
        elif kind == "pre":
            out.append("```\n" + block[1] + "\n```")
        elif kind == "raw":
            out.append(block[1])
    return "\n\n".join(out) + "\n"


def inline(text: str) -> str:
    """Markdown's inline marks as HTML: `code` and **bold** (the rest escaped)."""
    pieces = re.split(r"(`[^`\n]+`)", text)
    out = []
    for piece in pieces:
        if len(piece) > 1 and piece.startswith("`") and piece.endswith("`"):
            out.append(f"<code>{html.escape(piece[1:-1])}</code>")
        else:
            parts = html.escape(piece).split("**")
            out.append("".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts)))
    return "".join(out)


def html_page(blocks: list[Block], figures: dict[str, Path]) -> str:
    body = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            body.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
        elif kind == "p":
            body.append(f"<p>{inline(block[1])}</p>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block[1])
            rows = "".join(
                "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in block[2]
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(figures[block[1]].read_bytes()).decode()
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{block[1]}">'
                f"<figcaption>{html.escape(block[2])}</figcaption></figure>"
            )
        elif kind == "pre":
            body.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "raw":  # Markdown notes: paragraphs kept, markup shown as text
            body += [f"<p>{inline(par)}</p>" for par in block[1].split("\n\n")]
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}pre{background:#f6f6f6;"
        "padding:8px;white-space:pre-wrap;font-size:12px}img{max-width:100%}"
        "figcaption{font-size:12px;color:#555}code{background:#f2f2f2;padding:0 3px}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>symtune report</title>"
        f"<style>{style}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )
