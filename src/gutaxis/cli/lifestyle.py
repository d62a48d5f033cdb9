"""Commands of the *act* capability: ``plan``, ``food match``, ``diet scores``, ``insights``.

A thin face over :mod:`gutaxis.lifestyle` (no science lives here). The food tables (USDA SR28,
NOVA) come from the dataset cache (``gutaxis datasets fetch usda_sr28_abbrev`` and
``nova_fndds_sr_grocerydb``) or from ``--usda``/``--nova``; ``gutaxis plan --example`` works
offline with the shipped SYNTHETIC example person and its own food table.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._app import app
from ._app import guard as _guard
from ._app import progress as _progress
from ._app import stderr as _stderr
from ._app import stdout as _stdout

food_app = typer.Typer(help="Food data: match what you wrote to a USDA SR28 item.", no_args_is_help=True)
diet_app = typer.Typer(help="Diet scores from a meal log.", no_args_is_help=True)
app.add_typer(food_app, name="food")
app.add_typer(diet_app, name="diet")

_USDA_HELP = "USDA SR28 ABBREV.txt (default: the dataset cache; `gutaxis datasets fetch usda_sr28_abbrev`)."
_NOVA_HELP = "FoodProX/GroceryDB NOVA table (default: the dataset cache; `gutaxis datasets fetch nova_fndds_sr_grocerydb`)."


def _food_table(usda: Optional[Path], nova: Optional[Path]):
    """The USDA SR28 table with NOVA groups (cache or given paths), with a clear error when missing."""
    from ..lifestyle.person import person_foods

    return person_foods(None, usda_path=usda, nova_path=nova)


def _logged_meals(meals: Path, stress: Optional[Path], foods: Optional[Path], usda: Optional[Path],
                  nova: Optional[Path]):
    """The meal log resolved against a food table, the stress log (or None) and the food table."""
    from ..lifestyle.logs import read_meal_log, read_stress_log
    from ..lifestyle.person import read_food_table
    from ..lifestyle.scores import resolve_meals

    log = read_meal_log(meals)
    st = read_stress_log(stress) if stress is not None else None
    table = read_food_table(foods) if foods is not None else _food_table(usda, nova)[0]
    return resolve_meals(log, table), st, table


@app.command("plan")
def plan_cmd(
    person_dir: Optional[Path] = typer.Argument(None, help="A person's folder with person.json (see docs/lifestyle.md)."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for the reports and CSV exports."),
    example: bool = typer.Option(False, "--example", help="Use the shipped SYNTHETIC example person (works offline)."),
    profile: Optional[Path] = typer.Option(None, "--profile", help="Stool profile (MetaPhlAn, BIOM, CSV/TSV...)."),
    meals: Optional[Path] = typer.Option(None, "--meals", help="Meal log (CSV or JSON)."),
    stress: Optional[Path] = typer.Option(None, "--stress", help="Stress log (CSV or JSON)."),
    symptoms: Optional[Path] = typer.Option(None, "--symptoms", help="Symptom log (CSV or JSON)."),
    foods: Optional[Path] = typer.Option(None, "--foods", help="A personal food table (CSV, per 100 g)."),
    sex: Optional[str] = typer.Option(None, "--sex", help="female or male (chooses the fiber target)."),
    age: Optional[float] = typer.Option(None, "--age", help="Age in years."),
    condition: Optional[List[str]] = typer.Option(None, "--condition", help="Condition tag, repeatable: RA, SLE, MS, IBD..."),
    flag: Optional[List[str]] = typer.Option(None, "--flag", help="Flag, repeatable: strong_immunosuppression, central_venous_catheter, ..."),
    usda: Optional[Path] = typer.Option(None, "--usda", help=_USDA_HELP),
    nova: Optional[Path] = typer.Option(None, "--nova", help=_NOVA_HELP),
    reference: Optional[Path] = typer.Option(None, "--reference", "-r", help="Healthy reference JSON for gut-panel percentiles."),
    simulate: bool = typer.Option(True, "--simulate/--no-simulate", help="Simulate the plan on the person's twin."),
    draws: int = typer.Option(200, "--draws", min=10, help="Model patients in the twin ensemble."),
    days: int = typer.Option(84, "--days", min=7, help="Days simulated."),
    seed: int = typer.Option(0, "--seed", help="Seed of the twin."),
) -> None:
    """Write a person's evidence-graded plan: HTML report, dietitian summary (HTML + PDF), CSV exports."""
    with _guard():
        from ..errors import InputError
        from ..lifestyle.person import example_person_dir, person_foods, read_person
        from ..lifestyle.plan import build_plan
        from ..lifestyle.report import write_plan_reports

        if example and person_dir is not None:
            raise InputError("give either PERSON_DIR or --example, not both", source="gutaxis plan")
        if not example and person_dir is None and meals is None:
            raise InputError("no person given", source="gutaxis plan",
                             hint="give a person's folder, or --meals (with --profile/--stress/--symptoms), or --example")
        flags = {f: True for f in (flag or [])}
        with _progress(7, "reading the person") as advance:
            advance("reading the person")
            if example:
                from importlib import resources

                with resources.as_file(example_person_dir()) as d:
                    person = read_person(d, flags=flags or None, conditions=condition or None, sex=sex, age=age)
            else:
                person = read_person(person_dir, profile=profile, meals=meals, stress=stress, symptoms=symptoms,
                                     foods=foods, sex=sex, age=age, conditions=condition or None, flags=flags or None)
            advance("food table")
            table, note = person_foods(person, usda_path=usda, nova_path=nova)
            if "not in the dataset cache" in note:
                _stderr().print(f"note: {note}")
            advance("scores, rules and the twin")
            plan = build_plan(person, foods=table, foods_note=note, reference=reference, simulate=simulate,
                              days=days, n_draws=draws, seed=seed)
            written = write_plan_reports(plan, out_dir, progress=advance)
        out = _stdout()
        out.print(f"plan for {person.id}: {len(plan.suggestions)} suggestions, {len(plan.withheld)} withheld, "
                  f"{len(plan.limits)} statements of what the evidence does not support")
        if not plan.effect.available:
            out.print(plan.effect.message)
        out.print(f"report written to {written['plan.html']}")
        out.print(f"dietitian summary: {written['dietitian_summary.html']} and {written['dietitian_summary.pdf']}")
        for name, p in written.items():
            if name not in ("plan.html", "dietitian_summary.html", "dietitian_summary.pdf"):
                out.print(f"  {p}")


@food_app.command("match")
def food_match(
    text: List[str] = typer.Argument(..., help="What you ate, e.g. \"1 cup kimchi\" (quote it)."),
    usda: Optional[Path] = typer.Option(None, "--usda", help=_USDA_HELP),
    nova: Optional[Path] = typer.Option(None, "--nova", help=_NOVA_HELP),
) -> None:
    """Match free text ("1 cup kimchi", "slice of sourdough") to a USDA SR28 item and grams."""
    with _guard():
        from ..lifestyle.fermented import classify_fermented
        from ..lifestyle.matching import FoodMatcher

        phrase = " ".join(text)
        foods, _ = _food_table(usda, nova)
        m = FoodMatcher(foods).match(phrase)
        out = _stdout()
        out.print(f"text: {phrase}")
        out.print(f"status: {m.status} (confidence {m.confidence:.2f})")
        if m.ndb_no:
            out.print(f"USDA SR28: {m.ndb_no} {m.description}")
            out.print("grams: " + (f"{m.grams:g}" if m.grams is not None else "not known (give grams)"))
            if "nova" in foods.columns and str(foods.at[m.ndb_no, "nova"]) not in ("<NA>", "nan"):
                out.print(f"NOVA group: {foods.at[m.ndb_no, 'nova']}")
            fer = classify_fermented(phrase, m.description)
            if fer:
                out.print(f"fermented: {fer['name']} (live cultures: {fer['live_cultures']})")
        if m.note:
            out.print(f"note: {m.note}")
        for c in m.candidates[:5]:
            out.print(f"  candidate: {c[0]} {c[1]}")


@diet_app.command("scores")
def diet_scores(
    meals: Path = typer.Argument(..., help="Meal log (CSV or JSON)."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for daily_scores.csv, weekly_scores.csv, resolved_meals.csv."),
    stress: Optional[Path] = typer.Option(None, "--stress", help="Stress log to join (CSV or JSON)."),
    sex: Optional[str] = typer.Option(None, "--sex", help="female or male (fiber target 25 or 38 g/day)."),
    age: Optional[float] = typer.Option(None, "--age", help="Age in years (targets change at 51)."),
    usda: Optional[Path] = typer.Option(None, "--usda", help=_USDA_HELP),
    nova: Optional[Path] = typer.Option(None, "--nova", help=_NOVA_HELP),
    foods: Optional[Path] = typer.Option(None, "--foods", help="A personal food table (CSV, per 100 g) instead of USDA/NOVA."),
) -> None:
    """Daily and weekly diet scores (fiber, fermented, NOVA-4 share, sugars, saturated fat, DII parameters)."""
    with _guard():
        from ..lifestyle.logs import write_log
        from ..lifestyle.scores import daily_scores, weekly_scores

        items, st, table = _logged_meals(meals, stress, foods, usda, nova)
        daily = daily_scores(items, table, sex=sex, age=age, stress=st)
        weekly = weekly_scores(daily)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_log(items.drop(columns=["candidates"], errors="ignore"), out_dir / "resolved_meals.csv")
        d = daily.copy()
        d.index = d.index.strftime("%Y-%m-%d")
        d.to_csv(out_dir / "daily_scores.csv", index_label="date")
        if len(weekly):
            weekly.index = weekly.index.strftime("%Y-%m-%d")
        weekly.to_csv(out_dir / "weekly_scores.csv", index_label="week_start")
        out = _stdout()
        out.print(f"{len(daily)} days, {len(items)} entries ({int(daily['n_left_out'].sum())} left out of the scores)")
        out.print(f"mean fiber {daily['fiber_g'].mean():.1f} g/day (target {daily['fiber_target_g'].iloc[0]:.0f}); "
                  f"sugars {daily['sugar_pct_energy'].mean():.1f}% energy (total sugars, proxy); "
                  f"saturated fat {daily['sat_fat_pct_energy'].mean():.1f}% energy")
        for name in ("daily_scores.csv", "weekly_scores.csv", "resolved_meals.csv"):
            out.print(f"  {out_dir / name}")


@app.command("insights")
def insights_cmd(
    meals: Path = typer.Option(..., "--meals", help="Meal log (CSV or JSON)."),
    symptoms: Path = typer.Option(..., "--symptoms", help="Symptom log (CSV or JSON)."),
    stress: Optional[Path] = typer.Option(None, "--stress", help="Stress log (CSV or JSON)."),
    out: Path = typer.Option(..., "-o", "--out", help="Folder for insights.csv, insights_skipped.csv, insights.json."),
    min_days: int = typer.Option(7, "--min-days", min=3, help="Days with and without a factor needed for a test."),
    fdr: float = typer.Option(0.05, "--fdr", help="False discovery rate (Benjamini-Hochberg)."),
    usda: Optional[Path] = typer.Option(None, "--usda", help=_USDA_HELP),
    nova: Optional[Path] = typer.Option(None, "--nova", help=_NOVA_HELP),
    foods: Optional[Path] = typer.Option(None, "--foods", help="A personal food table (CSV, per 100 g) instead of USDA/NOVA."),
) -> None:
    """N-of-1 diary patterns: which factors go with which symptoms, with lags of 0-48 h and FDR control."""
    with _guard():
        import json

        from ..lifestyle.insights import factor_events, n_of_1, symptom_observations
        from ..lifestyle.logs import read_symptom_log

        items, st, _ = _logged_meals(meals, stress, foods, usda, nova)
        sym = read_symptom_log(symptoms)
        res = n_of_1(factor_events(items, st), symptom_observations(sym), min_days=min_days, fdr=fdr)
        out.mkdir(parents=True, exist_ok=True)
        res.table.to_csv(out / "insights.csv", index=False)
        res.skipped.to_csv(out / "insights_skipped.csv", index=False)
        (out / "insights.json").write_text(json.dumps({"statement": res.statement, "findings": res.findings,
                                                       "params": res.params}, indent=1, default=str) + "\n",
                                           encoding="utf-8")
        console = _stdout()
        console.print(res.statement)
        for f in res.findings:
            console.print(f"  - {f}")
        for name in ("insights.csv", "insights_skipped.csv", "insights.json"):
            console.print(f"  {out / name}")
