"""A signed plan version as a PDF (the export's ``plans/plan_v<N>.pdf``), drawn with the package's own
matplotlib page layout (``gutaxis.report.plan_pages``): no browser and no extra dependency.

It holds what the export's HTML copy holds: the signer, the time and the sha256 seal, each goal with
its text, target, evidence grade, citation and cautions, and the disclaimer. Fonts are embedded
(TrueType), so the text can be searched and copied (``pdftotext`` reads it back).
"""

from __future__ import annotations

import io

from ..lifestyle.plan import DISCLAIMER
from ..report.plan_figures import _MUTED, _rc
from ..report.plan_pages import _Pdf
from .models import PlanVersion

__all__ = ["plan_pdf"]


def plan_pdf(pv: PlanVersion) -> bytes:
    """The PDF of plan version ``pv`` (signed or, marked as such, a draft)."""
    content = pv.content or {}
    signed = pv.status == "signed"
    when = pv.signed_at.strftime("%Y-%m-%d %H:%M") + " UTC" if pv.signed_at else "?"
    title = f"Plan version {pv.number}"
    with _rc():
        pdf = _Pdf(
            title,
            f"gutaxis · {title} · " + (f"seal {pv.sha256[:16]}…" if signed else "DRAFT, not signed"),
            banner="SYNTHETIC EXAMPLE — not a real person" if content.get("synthetic") else None,
        )
        pdf.heading(title, size=17, space=0.0)
        if signed:
            pdf.para(f"Signed by {pv.signer_name or 'your dietitian'} on {when}.", size=9.5, color=_MUTED)
            pdf.para(f"Seal (sha256 of the signed content): {pv.sha256}", size=8, color=_MUTED)
        else:
            pdf.para("DRAFT: not signed by a dietitian.", size=10, bold=True, box="#fdecec", edge="#8b1c1c")
        if pv.legal_hold:
            pdf.para(
                "The practice keeps this signed version where the law requires it, also after an erasure of your "
                "account.",
                size=9,
                box="#f5f7fa",
                edge="#0b5394",
            )
        items = content.get("items") or []
        if items:
            pdf.heading("Goals", size=13)
        for i, it in enumerate(items, start=1):
            pdf.heading(f"{i}. {it.get('title', '')}", size=11, space=0.1)
            if it.get("text"):
                pdf.para(str(it["text"]), size=9.5)
            target = it.get("target") or it.get("general_target")
            if target:
                pdf.para(f"Target: {target}", size=9.5, bold=True)
            if it.get("grade"):
                cite = f" — {it['citation']}" if it.get("citation") else ""
                pdf.para(f"Evidence grade {it['grade']}{cite}", size=8.5, color=_MUTED)
            for c in it.get("cautions") or []:
                pdf.para(f"Caution: {c}", size=9, indent=0.15)
        limits = content.get("limits") or []
        if limits:
            pdf.heading("Limits", size=13)
            for it in limits:
                pdf.para(f"{it.get('title', '')}: {it.get('text', '')}", size=9)
        pdf.para(str(content.get("disclaimer") or DISCLAIMER), size=8, color=_MUTED, box="#f5f7fa")
        buf = io.BytesIO()
        pdf.save(buf)  # type: ignore[arg-type]  # PdfPages writes to a file object as well as a path
    return buf.getvalue()
