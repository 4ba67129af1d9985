"""One self-contained HTML page that stitches the figures of a pipeline run's steps together."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
.summary td{font-size:1.05rem}.ok{color:#17752a;font-weight:600}.no{color:#b3261e;font-weight:600}
iframe{width:100%;min-height:480px;border:1px solid #ddd}img{max-width:100%}
"""


@dataclass(frozen=True)
class Section:
    """One titled block of the report; ``body`` is trusted HTML built by the helpers below."""

    title: str
    body: str


def key_value_table(values: Mapping[str, object], *, css_class: str = "") -> str:
    """An HTML table of name/value rows; floats are shown with 4 significant digits."""
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}</td></tr>" for k, v in values.items())
    cls = f' class="{css_class}"' if css_class else ""
    return f"<table{cls}>{rows}</table>"


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def metrics_section(title: str, metadata: Mapping[str, object]) -> Section:
    """A section listing a KFP Metrics artifact's values."""
    shown = {k: v for k, v in metadata.items() if not k.startswith("display_name")}
    return Section(title, key_value_table(shown) if shown else "<p>(no figures)</p>")


def markdown_section(title: str, markdown: str) -> Section:
    """A section from the small Markdown subset the components write (headings, tables, lists, text)."""
    return Section(title, markdown_to_html(markdown))


def html_section(title: str, document: str) -> Section:
    """A section embedding another step's HTML report as is (sandboxed, so its styles stay inside)."""
    return Section(title, f'<iframe sandbox srcdoc="{html.escape(document, quote=True)}"></iframe>')


def markdown_to_html(markdown: str) -> str:
    """Render headings, pipe tables, bullet lists and paragraphs; everything else is escaped text."""
    out: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line:
            i += 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 2, 6)
            out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            i += 1
        elif line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(_table(block))
        elif line.lstrip().startswith(("- ", "* ")):
            items = []
            while i < len(lines) and lines[i].lstrip().startswith(("- ", "* ")):
                items.append(f"<li>{_inline(lines[i].lstrip()[2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        else:
            out.append(f"<p>{_inline(line)}</p>")
            i += 1
    return "\n".join(out)


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _table(block: Sequence[str]) -> str:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block]
    rows = [r for r in rows if not all(re.fullmatch(r":?-{3,}:?", c) for c in r)]
    if not rows:
        return ""
    head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def render_page(title: str, summary: Mapping[str, object], sections: Sequence[Section]) -> str:
    """The whole report: a summary table first, then each section in order."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        key_value_table(summary, css_class="summary"),
    ]
    parts += [f"<h2>{html.escape(s.title)}</h2>\n{s.body}" for s in sections]
    parts.append("</body></html>")
    return "\n".join(parts)


def headline(
    import_stats: Mapping[str, object],
    prefilter_stats: Mapping[str, object],
    evaluation: Mapping[str, object],
    machine_labels: Mapping[str, object],
    final_dataset: Mapping[str, object],
    rounds: Sequence,
    spend_usd: float | None,
    blessed: bool,
    gate_reason: str,
    champion: str | None,
) -> dict[str, object]:
    """The figures a person wants first: what was kept, what labels cost, how good the model is."""
    rejected_by_prefilter = sum(
        int(v) for k, v in prefilter_stats.items() if k.startswith("rejected_") and isinstance(v, (int, float))
    )
    out: dict[str, object] = {
        "raw items": import_stats.get("items_total"),
        "rejected at import": import_stats.get("items_rejected"),
        "removed by prefilter": prefilter_stats.get("rejected", rejected_by_prefilter),
        "items in final dataset": final_dataset.get("item_count"),
    }
    if rounds:
        out["active-learning rounds"] = len(rounds)
        out["human labels bought (pool)"] = rounds[-1].labels_total
    if spend_usd is not None:
        out["labeling spend (USD)"] = round(spend_usd, 2)
    sources = final_dataset.get("counts_by_label_source") or {}
    for source, count in sorted(dict(sources).items()):
        out["items left unlabeled" if source == "(none)" else f"items labeled by {source}"] = count
    for name in ("accuracy", "macro_f1", "au_prc", "log_loss"):
        if name in evaluation:
            out[f"test {name}"] = evaluation[name]
    if "machine_labeled_items" in machine_labels:
        out["machine-labeled items"] = machine_labels["machine_labeled_items"]
        out["machine-label precision on test"] = machine_labels.get("test_precision")
    out["gate"] = "blessed" if blessed else "refused"
    out["gate reason"] = gate_reason
    out["champion version"] = champion or "(none)"
    return {k: v for k, v in out.items() if v is not None}


def markdown_page(title: str, markdown: str) -> str:
    """A self-contained HTML page from a step's Markdown summary, so every step's report is HTML."""
    return render_page(title, {}, [Section("", markdown_to_html(markdown))])
