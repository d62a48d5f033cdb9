"""The dietitian summary as a PDF (:func:`_write_pdf`), addressed to the clinician ("the client").

It follows the dietitian summary HTML (``templates/dietitian.html.j2``), from the same context
(``gutaxis.report.plan_context._context``): coverage first, then data quality, scores
against targets, medications and notes, nutrients, the foods behind the scores, the entries to
check, the suggestions, what was withheld, the weeks logged, diary patterns, the simulated effect,
the gut profile and the methods.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..lifestyle.plan import DISCLAIMER, GRADES, Plan
from .plan_figures import _GRADE_COLOR, _MUTED, _draw_effect, _draw_weeks, _rc
from .plan_pages import _Pdf


def _pdf_clinical(pdf: _Pdf, ctx: dict) -> None:
    """Medications and notes, nutrients, the foods behind the scores, the entries to check."""
    meds = ctx["medications"]
    pdf.heading("Medications and notes", size=12)
    if meds:
        pdf.table(
            ["The client listed", "Recognised as", "Dose", "Flags it sets", "Note for the dietitian"],
            [
                [
                    m["name"],
                    m["drug"] or "—",
                    m["dose"] or "—",
                    ", ".join(m["flags"]) or "none",
                    m["note"] + "".join(f" Assumed: {x}" for x in m["assumptions"]),
                ]
                for m in meds
            ],
            [1.7, 1.6, 1.0, 1.3, 3.6],
            size=7.2,
        )
    else:
        pdf.para("The client listed no medications.", size=8.3)
    if ctx["person_notes"]:
        pdf.para("Client's notes: " + ctx["person_notes"], size=8.3)
    if ctx["nutrients"]:
        pdf.heading("Nutrients (mean per day logged)", size=12)
        if ctx["coverage"]["gated"]:
            pdf.para(
                "Too few foods were counted: these are not the client's intake.", size=8.3, color="#8b1c1c", bold=True
            )
        pdf.table(
            ["Nutrient", "Per day", "Per kg", "Reference", "Coverage"],
            [
                [
                    n["label"],
                    f"{n['per_day']} {n['unit']}".strip(),
                    n["per_kg"] or "—",
                    n["reference"],
                    n["coverage_note"],
                ]
                for n in ctx["nutrients"]
            ],
            [1.6, 1.2, 1.25, 2.9, 2.4],
            align=["left", "right", "right", "left", "left"],
            size=7.4,
        )
    if ctx["top_foods"]:
        pdf.heading("Foods behind the scores", size=12)
        rows = []
        for b in ctx["top_foods"]:
            for i, r in enumerate(b["rows"]):
                rows.append(
                    [
                        b["title"] if i == 0 else "",
                        r["food"],
                        ", ".join(f"“{e}”" for e in r["examples"]),
                        r["amount"],
                        r["share"],
                    ]
                )
        pdf.table(
            ["Score", "Food", "The client wrote", "Amount", "Share"],
            rows,
            [1.2, 3.0, 2.8, 1.1, 0.7],
            align=["left", "left", "left", "right", "right"],
            size=7.2,
        )
    pdf.heading("Entries to check", size=12)
    if ctx["to_fix"]:
        pdf.table(
            ["Row", "Date", "The client wrote", "Status", "Why; closest foods"],
            [
                [
                    e["row"],
                    e["date"],
                    f"“{e['text']}”" + (f" (part: “{e['item_text']}”)" if e["item_text"] else ""),
                    e["status_text"],
                    e["reason"] + (f" Closest: {'; '.join(e['candidates'])}" if e["candidates"] else ""),
                ]
                for e in ctx["to_fix"]
            ],
            [0.7, 1.2, 2.6, 1.1, 3.6],
            size=7.2,
        )
    else:
        pdf.para("Every food entry was counted.", size=8.3)
    if ctx["assumed"]:
        pdf.para(f"{len(ctx['assumed'])} entries counted with an assumed portion:", size=8.3, bold=True)
        pdf.table(
            ["Row", "Date", "The client wrote", "Counted as", "Grams", "Based on"],
            [[e["row"], e["date"], f"“{e['text']}”", e["description"], e["grams"], e["basis"]] for e in ctx["assumed"]],
            [0.7, 1.2, 2.2, 2.6, 0.7, 1.8],
            align=["left", "left", "left", "left", "right", "left"],
            size=7.2,
        )


def _write_pdf(plan: Plan, ctx: dict, path: Path) -> None:
    p = plan.person
    with _rc():
        pdf = _Pdf(
            f"Dietitian summary — {p.id}",
            f"gutaxis {ctx['version']} · {ctx['generated_at']} · " + DISCLAIMER[:95],
            banner="SYNTHETIC EXAMPLE — not a real person" if p.synthetic else None,
        )
        pdf.heading(f"Dietitian summary — {p.id}", size=17, space=0.0)
        pdf.para(f"{ctx['person_line']} · logged {ctx['period']}", size=9.5, color=_MUTED)
        cov = ctx["coverage"]
        if cov["gated"]:
            pdf.para(cov["statement_client"], size=10, bold=True, color="#5c1010", box="#fdecec", edge="#8b1c1c")
        else:
            pdf.para(cov["statement_client"], size=9.5, bold=True, box="#f5f7fa", edge="#0b5394")
        if p.synthetic:
            pdf.para(
                "SYNTHETIC DATA: this example person is invented (made by a seeded script); the numbers illustrate "
                "the report and describe no real person.",
                size=8.5,
                box="#f9ecf4",
                edge="#7a1f5c",
                bold=True,
            )
        pdf.para(DISCLAIMER, size=9, box="#eaf2fb", edge="#0b5394", bold=True)
        q = ctx["quality"]
        n_ent = cov["n_entries"]
        entries = (
            f"{n_ent} food entries, read as {q['entries']} foods"
            if n_ent and n_ent != q["entries"]
            else f"{q['entries']} food entries"
        )
        pdf.para(
            f"The client logged meals on {q['days']} days: {entries} ({q['matched']} matched, "
            f"{q['low_confidence']} low-confidence, {q['unmatched']} unmatched; {q['left_out']} left out of the "
            f"scores), {q['stress_entries']} stress and {q['symptom_entries']} symptom entries. Food table: "
            f"{plan.assessment.foods_note}",
            size=8.3,
            color=_MUTED,
        )
        pdf.heading("Scores against targets (whole period)", size=12)
        rows, colors = [], []
        for r in ctx["scores"]:
            rows.append([r["label"], f"{r['value']} {r['unit']}".strip(), r["target"], r["status"]])
            colors.append([None, None, None, {"ok": "#1b7a52", "warn": "#a14a00"}.get(r["cls"])])
        pdf.table(
            ["Score", "Value", "Target", "Status"],
            rows,
            [3.2, 1.5, 3.6, 1.2],
            align=["left", "right", "left", "left"],
            colors=colors,
        )
        _pdf_clinical(pdf, ctx)
        pdf.heading("Suggestions for discussion", size=12)
        rows, colors = [], []
        if ctx["not_judged"]:
            pdf.para(
                "Not judged"
                + (" until the entries to check are fixed" if cov["gated"] else "")
                + ": "
                + "; ".join(n["title"] for n in ctx["not_judged"])
                + ".",
                size=8.3,
                color=_MUTED,
            )
        for sg in ctx["suggestions"]:
            caution = (" Caution: " + " ".join(sg["cautions_client"])) if sg["cautions_client"] else ""
            rows.append([sg["title"], sg["grade"], sg["why_client"] + caution, sg["citation"]])
            colors.append([None, _GRADE_COLOR[sg["grade"]], None, _MUTED])
        pdf.table(
            ["Suggestion", "Grade", "Why for this person", "Evidence"],
            rows,
            [2.6, 0.55, 3.4, 3.0],
            colors=colors,
            size=7.4,
        )
        pdf.para("Grades: " + "; ".join(f"{k} = {v}" for k, v in GRADES.items()) + ".", size=7.4, color=_MUTED)
        if ctx["withheld"]:
            pdf.heading("Withheld (contraindication)", size=12, color="#a14a00")
            for w in ctx["withheld"]:
                pdf.para(
                    f"{w['title']} (grade {w['grade']}) — {w['reason_client']}", size=8.5, box="#fff4e6", edge="#a14a00"
                )
                pdf.para(
                    f"Evidence: {w['citation']}. Safety: {w['contra_citation']}", size=7.4, color=_MUTED, indent=0.14
                )
        if ctx["limits"]:
            pdf.heading("What the evidence does not support", size=12)
            for lm in ctx["limits"]:
                pdf.para(f"{lm['title']} (grade {lm['grade']}). {lm['text']}", size=8.3)
                pdf.para(f"Evidence: {lm['citation']}", size=7.2, color=_MUTED, indent=0.14)
        if ctx["not_evaluated"]:
            pdf.para(
                "Not evaluated (missing data): "
                + "; ".join(f"{n['title']} — {n['reason']}" for n in ctx["not_evaluated"]),
                size=7.8,
                color=_MUTED,
            )
        n_pan = 7 + int(p.symptoms is not None and len(p.symptoms) > 0)
        fig_h = 1.5 * math.ceil(n_pan / 2) + 0.2
        pdf.ensure(fig_h + 0.6)
        pdf.heading("Weeks logged", size=12)
        pdf.figure(lambda fig, rect: _draw_weeks(fig, plan, rect, fontsize=6.8), fig_h)
        wk = ctx["weekly"]
        pdf.table(
            [
                "Week of",
                "Days",
                "kcal/d",
                "Fiber g/d",
                "Ferm. servings",
                "UPF %",
                "Sugars %",
                "Sat fat %",
                "DII",
                "Stress",
                "Practice min",
                "PSS-10",
            ],
            [
                [
                    w["week"],
                    str(w["days"]),
                    w["energy"],
                    w["fiber"],
                    w["fermented"],
                    w["upf"],
                    w["sugar"],
                    w["satfat"],
                    w["dii"],
                    w["stress"],
                    w["practice"],
                    w["pss10"],
                ]
                for w in wk
            ],
            [1.0, 0.6, 0.8, 0.8, 0.9, 0.7, 0.8, 0.8, 0.6, 0.7, 0.9, 0.7],
            align=["left"] + ["right"] * 11,
            size=7.4,
        )
        pdf.heading("Diary patterns (N-of-1)", size=12)
        ins = ctx["insights"]
        if ins is None:
            pdf.para("No symptom log, so no diary patterns were looked for.", size=8.5)
        else:
            pdf.para(ins["statement"], size=8.5)
            if ins["rows"]:
                pdf.table(
                    ["Factor", "Symptom", "Lag", "Days with/without", "Difference (0-10)", "Hedges g", "q"],
                    [
                        [r["factor"], r["symptom"], r["lag"], f"{r['with']}/{r['without']}", r["diff"], r["g"], r["q"]]
                        for r in ins["rows"]
                    ],
                    [3.0, 1.2, 0.9, 1.2, 1.1, 0.8, 0.7],
                    align=["left", "left", "left", "right", "right", "right", "right"],
                    size=7.4,
                )
        pdf.heading("Simulated effect on the person's twin", size=12)
        eff = ctx["effect"]
        pdf.para(eff["message"], size=8.5, bold=not eff["available"])
        if eff["available"]:
            pdf.table(
                ["Endpoint", "Unit", "Starting point", "As logged", "With the plan", "Effect (plan − as logged)"],
                [[r["label"], r["unit"], r["source"], r["usual"], r["plan"], r["effect"]] for r in eff["rows"]],
                [2.1, 1.3, 1.5, 1.7, 1.7, 1.9],
                align=["left", "left", "left", "right", "right", "right"],
                size=7.0,
            )
            pdf.figure(
                lambda fig, rect: _draw_effect(fig, plan, rect, fontsize=6.8),
                2.0 * math.ceil(len(eff["rows"]) / 3) + 0.3,
            )
            for c in eff["caveats"]:
                pdf.para("• " + c, size=7.6, color=_MUTED, space_after=0.03)
            pdf.para("Assumed: " + "; ".join(eff["assumptions"]), size=7.4, color=_MUTED)
        if ctx["gut"]:
            pdf.heading("Gut profile", size=12)
            pdf.table(
                ["Index", "Value", "Percentile among healthy"],
                [[g["label"], g["value"], g["pct"]] for g in ctx["gut"]],
                [4.0, 2.0, 2.5],
                align=["left", "right", "right"],
                size=7.6,
            )
        pdf.heading("Methods and notes", size=12)
        for k, v in ctx["methods"]:
            pdf.para(f"{k}: {v}", size=7.4, color=_MUTED, space_after=0.02)
        for n in ctx["notes"]:
            pdf.para("• " + n, size=7.4, color=_MUTED, space_after=0.02)
        pdf.para(DISCLAIMER, size=8.5, box="#eaf2fb", edge="#0b5394", bold=True)
        pdf.save(path)
