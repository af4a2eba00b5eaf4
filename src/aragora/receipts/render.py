"""A receipt for people: the same sections as Markdown or as a standalone HTML page.

Everything taken from the receipt is escaped (agents' text can hold anything), so a
rendering never carries markup, links or scripts that the debate's participants wrote.
The rendering is a view: the signed JSON document is the receipt.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aragora.receipts.odr import content_digest

__all__ = ["render_html", "render_markdown"]

# Enough to keep agents' text from becoming emphasis, links, tables, headings or HTML.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")


@dataclass(slots=True)
class _Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)
    """First row is the header."""


def render_markdown(receipt: Mapping[str, Any], *, chain: Mapping[str, Any] | None = None) -> str:
    """The receipt as Markdown. ``chain`` may add ``position`` and ``previous_digest``."""
    title, sections = _sections(receipt, chain)
    out = [f"# {_md(title)}", ""]
    for section in sections:
        out += [f"## {_md(section.title)}", ""]
        for paragraph in section.paragraphs:
            out += [_md(paragraph).replace("\n", "  \n"), ""]
        if section.items:
            out += [
                f"- {_md(item).replace(chr(10), '  ' + chr(10) + '  ')}" for item in section.items
            ]
            out.append("")
        if section.table:
            header, *rows = section.table
            out.append("| " + " | ".join(_md(cell) for cell in header) + " |")
            out.append("|" + "---|" * len(header))
            for row in rows:
                out.append("| " + " | ".join(_md(cell).replace("\n", " ") for cell in row) + " |")
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render_html(receipt: Mapping[str, Any], *, chain: Mapping[str, Any] | None = None) -> str:
    """The receipt as a standalone HTML page (no scripts, no external resources)."""
    title, sections = _sections(receipt, chain)
    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>"]
    for section in sections:
        body.append(f"<section><h2>{esc(section.title)}</h2>")
        body.extend(
            "<p>" + esc(paragraph).replace("\n", "<br>") + "</p>"
            for paragraph in section.paragraphs
        )
        if section.items:
            body.append("<ul>")
            body.extend(
                "<li>" + esc(item).replace("\n", "<br>") + "</li>" for item in section.items
            )
            body.append("</ul>")
        if section.table:
            header, *rows = section.table
            body.append("<table><thead><tr>")
            body.extend(f"<th>{esc(cell)}</th>" for cell in header)
            body.append("</tr></thead><tbody>")
            for row in rows:
                body.append("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>")
            body.append("</tbody></table>")
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}"
        "code{word-break:break-all}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _md(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _text(value: Any, absent_text: str = "not recorded") -> str:
    if isinstance(value, Mapping) and value.get("status") == "absent":
        return f"{absent_text} ({value.get('reason')})"
    if value is None:
        return absent_text
    return str(value)


def _sections(
    receipt: Mapping[str, Any], chain: Mapping[str, Any] | None
) -> tuple[str, list[_Section]]:
    subject = _mapping(receipt.get("subject"))
    claim = _mapping(receipt.get("claim"))
    quorum = _mapping(receipt.get("quorum"))
    confidence = _mapping(receipt.get("confidence"))
    title = f"Decision receipt {receipt.get('receipt_id', '')}"

    summary = _Section("Decision")
    summary.items = [
        f"Verdict: {claim.get('verdict', '')}",
        f"Decision: {_text(claim.get('statement'))}",
        "Confidence: "
        + (
            str(confidence.get("value"))
            if confidence.get("status") == "present"
            else _text(confidence)
        ),
        f"Attestation: {_mapping(receipt.get('attestation')).get('disposition', '')}",
        f"Issued at: {_text(receipt.get('issued_at'))}",
        f"Debate: {subject.get('identifier', '')}",
    ]
    question = _Section("Question", paragraphs=[str(subject.get("summary") or "")])
    digest = _mapping(subject.get("digest"))
    if digest.get("status") == "present":
        question.items = [f"Task digest ({digest.get('alg')}): {digest.get('value')}"]

    reasoning = _mapping(receipt.get("reasoning"))
    why = _Section("Reasoning", paragraphs=[_text(reasoning.get("summary") or reasoning)])
    why.items = [
        f"{o.get('kind')}: {o.get('detail')}"
        for o in _list(reasoning.get("observations"))
        if isinstance(o, Mapping)
    ]

    sections = [summary, question, why]
    if quorum.get("status") == "present":
        supporting = set(_list(quorum.get("supporting_agents")))
        dissent = _mapping(quorum.get("dissent"))
        dissenting = set(_list(dissent.get("dissenting_agents")))
        panel = _Section(f"Panel ({quorum.get('method', '')})")
        panel.table = [["Agent", "Model family", "Model", "Stance"]] + [
            [
                str(p.get("agent")),
                str(p.get("model_family")),
                str(p.get("model_id")),
                "supports"
                if p.get("agent") in supporting
                else "dissents"
                if p.get("agent") in dissenting
                else "",
            ]
            for p in _list(quorum.get("participants"))
            if isinstance(p, Mapping)
        ]
        independence = _mapping(quorum.get("independence"))
        panel.paragraphs = [
            f"Quorum reached: {'yes' if quorum.get('reached') else 'no'}. "
            f"Distinct model families: {independence.get('distinct_model_families')}"
            + (f" ({independence['note']})" if independence.get("note") else "")
        ]
        views = _Section("Dissent")
        views.items = [str(v) for v in _list(dissent.get("views"))]
        if not views.items:
            views.paragraphs = ["No agent dissented."]
        sections += [panel, views]
    else:
        sections.append(_Section("Panel", paragraphs=[_text(quorum)]))

    cruxes = _mapping(receipt.get("cruxes"))
    crux = _Section("Cruxes")
    if cruxes.get("status") == "present":
        crux.items = [
            _crux(item) for item in _list(cruxes.get("items")) if isinstance(item, Mapping)
        ]
    else:
        crux.paragraphs = [_text(cruxes)]
    sections.append(crux)

    integrity = _Section("Integrity")
    try:
        computed: str | None = content_digest(receipt)
    except (TypeError, ValueError):
        computed = None
    integrity.items = [
        f"Receipt digest (SHA-256 over RFC 8785 JSON): {computed or 'cannot compute'}"
    ]
    source = _mapping(receipt.get("source"))
    if source.get("artifact_hash"):
        integrity.items.append(f"Event log digest: {source['artifact_hash']}")
    for sig in _list(receipt.get("signatures")):
        if isinstance(sig, Mapping):
            integrity.items.append(
                f"Signed {sig.get('alg')} by {sig.get('issuer')} ({sig.get('role')}) with key "
                f"{sig.get('key_id')} at {sig.get('signed_at')}"
            )
    if chain:
        integrity.items.append(f"Chain position: {chain.get('position')}")
        integrity.items.append(
            f"Previous receipt digest: {chain.get('previous_digest') or 'none (first)'}"
        )
    integrity.paragraphs = [
        "Verify offline with the issuer's public key (GET /.well-known/aragora-odr-signing-key): "
        "aragora receipt verify receipt.odr.json --pubkey key.pem"
    ]
    sections.append(integrity)
    return title, sections


def _crux(item: Mapping[str, Any]) -> str:
    start = ", ".join(str(a) for a in _list(item.get("held_at_start_by"))) or "nobody"
    end = ", ".join(str(a) for a in _list(item.get("held_at_end_by"))) or "nobody"
    verdict = " (the verdict)" if item.get("is_verdict") else ""
    return f"{item.get('position')}{verdict}: held at the start by {start}; at the end by {end}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []
