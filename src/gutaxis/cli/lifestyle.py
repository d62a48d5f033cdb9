"""Commands of the *act* capability: ``plan``, ``food match``, ``diet scores``, ``insights``.

A thin face over :mod:`gutaxis.lifestyle` (no science lives here). The food tables (USDA SR28,
NOVA) come from the dataset cache (``gutaxis datasets fetch usda_sr28_abbrev`` and
``nova_fndds_sr_grocerydb``) or from ``--usda``/``--nova``; ``gutaxis plan --example`` works
offline with the shipped SYNTHETIC example person and its own food table.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import OVERWRITE_HELP, app
from ._app import guard as _guard
from ._app import progress as _progress
from ._app import stderr as _stderr
from ._app import stdout as _stdout

food_app = typer.Typer(help="Food data: match what you wrote to a USDA SR28 item.", no_args_is_help=True)
diet_app = typer.Typer(help="Diet scores from a meal log.", no_args_is_help=True)
app.add_typer(food_app, name="food")
app.add_typer(diet_app, name="diet")

_USDA_HELP = "USDA SR28 ABBREV.txt (default: the dataset cache; `gutaxis datasets fetch usda_sr28_abbrev`)."
_NOVA_HELP = (
    "FoodProX/GroceryDB NOVA table (default: the dataset cache; `gutaxis datasets fetch nova_fndds_sr_grocerydb`)."
)


_FNDDS_HELP = (
    "Folder with the FNDDS 2017-2018 CSVs (default: the dataset cache; `gutaxis datasets fetch fndds_2017_2018`)."
)
_SR28_HELP = "Folder with SR28 WEIGHT.txt (default: the dataset cache; `gutaxis datasets fetch usda_sr28_full`)."
_DATES_HELP = (
    "Order of ambiguous dates such as 01/12/2026: --dayfirst (UK/Europe: 1 December) or --monthfirst "
    "(US: January 12). Default: detected from the file's unambiguous dates, or an error."
)


def _dayfirst(dayfirst: bool, monthfirst: bool):
    from ..errors import InputError

    if dayfirst and monthfirst:
        raise InputError("give --dayfirst or --monthfirst, not both", source="options")
    return True if dayfirst else (False if monthfirst else None)


def _food_table(
    usda: Path | None,
    nova: Path | None,
    fndds: Path | None = None,
    sr28: Path | None = None,
    foods: Path | None = None,
    aliases: Path | None = None,
):
    """The diary food data (FNDDS + SR28 + dishes + your foods, or the SR28 table) and where it came from."""
    from ..lifestyle.fooddb import food_database_for
    from ..lifestyle.matching import read_aliases
    from ..lifestyle.person import read_food_table

    own = read_food_table(foods) if foods is not None else None
    al = read_aliases(aliases) if aliases is not None else None
    return food_database_for(None, fndds=fndds, sr28=sr28, usda_path=usda, nova_path=nova, personal=own, aliases=al)


def _logged_meals(
    meals: Path,
    stress: Path | None,
    foods: Path | None,
    usda: Path | None,
    nova: Path | None,
    fndds: Path | None = None,
    sr28: Path | None = None,
    aliases: Path | None = None,
    dayfirst=None,
):
    """The meal log (ours, Cronometer or MyFitnessPal) resolved against the food data, the stress log and the
    food data."""
    from ..lifestyle.imports import read_diary
    from ..lifestyle.logs import read_stress_log
    from ..lifestyle.scores import resolve_meals

    log = read_diary(meals, dayfirst=dayfirst)
    note = log.attrs.get("note")
    if note:
        _stderr().print(f"note: {note}")
    st = read_stress_log(stress, dayfirst=dayfirst) if stress is not None else None
    table, _ = _food_table(usda, nova, fndds, sr28, foods, aliases)
    return resolve_meals(log, table), st, table


def _earlier_example_plan(path: Path) -> bool:
    """Whether ``path`` holds just a plan of a SYNTHETIC person (from `gutaxis plan --example`)."""
    import json

    from ..report.plan import REPORT_FILES

    try:
        entries = list(path.iterdir()) if path.is_dir() else []
        if not entries or any(not p.is_file() or p.name not in REPORT_FILES for p in entries):
            return False
        doc = json.loads((path / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("person"), dict) and doc["person"].get("synthetic") is True


def _fdr_range(value: float) -> float:
    if not 0 < value <= 1:
        raise typer.BadParameter(f"{value} is not in the range 0 < FDR <= 1 (e.g. 0.05)")
    return value


@app.command("plan")
def plan_cmd(
    person_dir: Path | None = typer.Argument(None, help="A person's folder with person.json (see docs/lifestyle.md)."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for the reports and CSV exports."),
    example: bool = typer.Option(False, "--example", help="Use the shipped SYNTHETIC example person (works offline)."),
    profile: Path | None = typer.Option(None, "--profile", help="Stool profile (MetaPhlAn, BIOM, CSV/TSV...)."),
    meals: Path | None = typer.Option(None, "--meals", help="Meal log (CSV or JSON)."),
    stress: Path | None = typer.Option(None, "--stress", help="Stress log (CSV or JSON)."),
    symptoms: Path | None = typer.Option(None, "--symptoms", help="Symptom log (CSV or JSON)."),
    foods: Path | None = typer.Option(None, "--foods", help="A personal food table (CSV, per 100 g)."),
    sex: str | None = typer.Option(None, "--sex", help="female or male (chooses the fiber target)."),
    age: float | None = typer.Option(None, "--age", min=0, max=120, help="Age in years."),
    condition: list[str] | None = typer.Option(
        None, "--condition", help="Condition tag, repeatable: RA, SLE, MS, IBD..."
    ),
    flag: list[str] | None = typer.Option(
        None,
        "--flag",
        help="Flag, repeatable: pregnant, kidney_disease, strong_immunosuppression, central_venous_catheter,"
        " bowel_stricture, dmard, methotrexate, glucocorticoid.",
    ),
    medication: list[str] | None = typer.Option(
        None,
        "--medication",
        help='A medication with its dose, repeatable: "prednisolone 40 mg daily"'
        " (mapped to flags where a cited rule exists).",
    ),
    weight_kg: float | None = typer.Option(
        None, "--weight", min=20, max=400, help="Body weight in kg (protein per kg for the dietitian)."
    ),
    marker: list[str] | None = typer.Option(
        None,
        "--marker",
        help="A measured marker, repeatable: crp=3.2 (mg/L), il6=4 (pg/mL), lbp=12 (µg/mL), calprotectin=80 (µg/g);"
        " the twin starts from them.",
    ),
    usda: Path | None = typer.Option(None, "--usda", help=_USDA_HELP),
    nova: Path | None = typer.Option(None, "--nova", help=_NOVA_HELP),
    fndds: Path | None = typer.Option(None, "--fndds", help=_FNDDS_HELP),
    sr28: Path | None = typer.Option(None, "--sr28", help=_SR28_HELP),
    aliases: Path | None = typer.Option(
        None, "--aliases", help="Your own words for foods: CSV phrase, food_id, grams (see `gutaxis food alias`)."
    ),
    dayfirst: bool = typer.Option(False, "--dayfirst", help=_DATES_HELP),
    monthfirst: bool = typer.Option(False, "--monthfirst", help="US date order (see --dayfirst)."),
    reference: Path | None = typer.Option(
        None, "--reference", "-r", help="Healthy reference JSON for gut-panel percentiles."
    ),
    simulate: bool = typer.Option(True, "--simulate/--no-simulate", help="Simulate the plan on the person's twin."),
    draws: int = typer.Option(200, "--draws", min=10, help="Model patients in the twin ensemble."),
    days: int = typer.Option(84, "--days", min=7, help="Days simulated."),
    seed: int = typer.Option(0, "--seed", help="Seed of the twin."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Write a person's evidence-graded plan: HTML report, dietitian summary (HTML + PDF), CSV exports.

    The folder is written whole or not at all. A folder that already holds files needs --overwrite,
    except an earlier plan of the SYNTHETIC example person, which --example replaces.
    """
    with _guard():
        from .._outputs import atomic_dir, check_output_dir
        from ..errors import InputError
        from ..lifestyle.fooddb import food_database_for
        from ..lifestyle.person import example_person_dir, read_person
        from ..lifestyle.plan import build_plan
        from ..report.plan import write_plan_reports

        if example and person_dir is not None:
            raise InputError("give either PERSON_DIR or --example, not both", source="gutaxis plan")
        if not example and person_dir is None and meals is None:
            raise InputError(
                "no person given",
                source="gutaxis plan",
                hint="give a person's folder, or --meals (with --profile/--stress/--symptoms), or --example",
            )
        if example:
            overwrite = overwrite or _earlier_example_plan(out_dir)
        inputs = [person_dir, profile, meals, stress, symptoms, foods, usda, nova, fndds, sr28, aliases, reference]
        check_output_dir(out_dir, overwrite=overwrite, what="plan folder", inputs=inputs)
        flags = {f: True for f in (flag or [])}
        markers = {}
        for m in marker or []:
            k, sep, v = m.partition("=")
            if not sep:
                raise InputError(f"--marker {m!r} is not NAME=VALUE", source="options", hint="e.g. --marker crp=3.2")
            markers[k.strip()] = v.strip()
        with _progress(7, "reading the person") as advance:
            advance("reading the person")
            if example:
                from importlib import resources

                with resources.as_file(example_person_dir()) as d:
                    person = read_person(
                        d,
                        flags=flags or None,
                        conditions=condition or None,
                        sex=sex,
                        age=age,
                        medications=medication or None,
                        weight_kg=weight_kg,
                        markers=markers or None,
                    )
            else:
                person = read_person(
                    person_dir,
                    profile=profile,
                    meals=meals,
                    stress=stress,
                    symptoms=symptoms,
                    foods=foods,
                    sex=sex,
                    age=age,
                    conditions=condition or None,
                    flags=flags or None,
                    medications=medication or None,
                    weight_kg=weight_kg,
                    aliases=aliases,
                    markers=markers or None,
                    dayfirst=_dayfirst(dayfirst, monthfirst),
                )
            advance("food table")
            table, note = food_database_for(person, fndds=fndds, sr28=sr28, usda_path=usda, nova_path=nova)
            if "not in the" in note:
                _stderr().print(f"note: {note}")
            advance("scores, rules and the twin")
            plan = build_plan(
                person,
                foods=table,
                foods_note=note,
                reference=reference,
                simulate=simulate,
                days=days,
                n_draws=draws,
                seed=seed,
            )
            with atomic_dir(out_dir, overwrite=overwrite, what="plan folder", inputs=inputs) as tmp:
                written = {
                    name: out_dir / p.name for name, p in write_plan_reports(plan, tmp, progress=advance).items()
                }
        out = _stdout()
        out.print(
            f"plan for {person.id}: {len(plan.suggestions)} suggestions, {len(plan.withheld)} withheld, "
            f"{len(plan.limits)} statements of what the evidence does not support"
        )
        if plan.effect is not None and not plan.effect.available:  # build_plan always sets it
            out.print(plan.effect.message)
        out.print(f"report written to {written['plan.html']}")
        out.print(f"dietitian summary: {written['dietitian_summary.html']} and {written['dietitian_summary.pdf']}")
        for name, p in written.items():
            if name not in ("plan.html", "dietitian_summary.html", "dietitian_summary.pdf"):
                out.print(f"  {p}")


@food_app.command("match")
def food_match(
    text: list[str] = typer.Argument(..., help='What you ate, e.g. "2 eggs and toast" (quote it).'),
    fndds: Path | None = typer.Option(None, "--fndds", help=_FNDDS_HELP),
    sr28: Path | None = typer.Option(None, "--sr28", help=_SR28_HELP),
    usda: Path | None = typer.Option(None, "--usda", help=_USDA_HELP),
    nova: Path | None = typer.Option(None, "--nova", help=_NOVA_HELP),
    foods: Path | None = typer.Option(
        None, "--foods", help="Your own foods (CSV per 100 g), added to the USDA tables."
    ),
    aliases: Path | None = typer.Option(
        None, "--aliases", help="Your own words for foods (CSV phrase, food_id, grams)."
    ),
) -> None:
    """Match a diary entry ("2 eggs and toast", "slice of sourdough") to USDA foods and grams."""
    with _guard():
        from ..lifestyle.diary import DiaryMatcher
        from ..lifestyle.fermented import classify_fermented
        from ..lifestyle.fooddb import FoodDatabase
        from ..lifestyle.matching import FoodMatcher

        phrase = " ".join(text)
        table, note = _food_table(usda, nova, fndds, sr28, foods, aliases)
        out = _stdout()
        out.print(f"text: {phrase}")
        if isinstance(table, FoodDatabase):
            items = DiaryMatcher(table).match_entry(phrase)
            frame = table.foods
        else:
            _stderr().print(f"note: {note}")
            m = FoodMatcher(table).match(phrase)
            from ..lifestyle.diary import ItemMatch

            items = [
                ItemMatch(
                    phrase,
                    m.status,
                    m.ndb_no,
                    m.description,
                    m.grams,
                    m.portion_basis,
                    False,
                    m.confidence,
                    m.source,
                    m.note,
                    [(c[0], c[1], float("nan")) for c in m.candidates],
                )
            ]
            frame = table
        for it in items:
            counted = "counted" if it.counted else "NOT counted"
            out.print(f"- {it.text}: {it.status} ({counted}, confidence {it.confidence:.2f})")
            if it.food_id:
                out.print(f"  food: {it.food_id} {it.description}")
                out.print(
                    "  grams: "
                    + (f"{it.grams:.0f}" if it.grams is not None else "not known (give grams)")
                    + (f" ({it.portion_basis})" if it.portion_basis else "")
                )
                if it.grams is not None and "energy_kcal" in frame.columns:
                    row = frame.loc[it.food_id]
                    out.print(
                        f"  energy {row['energy_kcal'] * it.grams / 100:.0f} kcal, "
                        f"fiber {row['fiber_g'] * it.grams / 100:.1f} g"
                    )
                if "nova" in frame.columns and str(frame.at[it.food_id, "nova"]) not in ("<NA>", "nan"):
                    out.print(f"  NOVA group: {frame.at[it.food_id, 'nova']}")
                fer = classify_fermented(it.text, str(it.description).upper().replace(", ", ","))
                if fer:
                    out.print(f"  fermented: {fer['name']} (live cultures: {fer['live_cultures']})")
            if it.note:
                out.print(f"  note: {it.note}")
            for c in it.candidates[:3]:
                if c[0] != it.food_id:
                    out.print(f"  candidate: {c[0]} {c[1]}")


@food_app.command("add")
def food_add(
    name: str = typer.Argument(..., help="The food's name, as you write it (e.g. \"grandma's lentil soup\")."),
    out_file: Path = typer.Option(..., "-o", "--out", help="Your foods CSV (created, or a row is added)."),
    energy_kcal: float = typer.Option(..., "--kcal", min=0, max=900, help="Energy per 100 g (kcal)."),
    fiber_g: float = typer.Option(..., "--fiber", min=0, max=100, help="Fiber per 100 g (g)."),
    sugars_g: float = typer.Option(..., "--sugars", min=0, max=100, help="Total sugars per 100 g (g)."),
    sat_fat_g: float = typer.Option(..., "--sat-fat", min=0, max=100, help="Saturated fat per 100 g (g)."),
    protein_g: float | None = typer.Option(None, "--protein", min=0, max=100, help="Protein per 100 g (g)."),
    sodium_mg: float | None = typer.Option(None, "--sodium", min=0, max=40000, help="Sodium per 100 g (mg)."),
    portion_g: float | None = typer.Option(None, "--portion", min=0.1, max=2000, help="Your usual portion (g)."),
    nova: int | None = typer.Option(None, "--nova", min=1, max=4, help="NOVA group 1-4."),
    food_id: str | None = typer.Option(None, "--id", help="An id for the food (default: from the name)."),
) -> None:
    """Add one of your own foods (per 100 g) to a personal foods CSV; it adds to the USDA tables."""
    with _guard():
        from .._outputs import check_output_file
        from ..lifestyle.own_foods import add_own_food

        check_output_file(out_file, what="foods CSV", example="my_foods.csv")

        fid = add_own_food(
            out_file,
            name,
            food_id=food_id,
            energy_kcal=energy_kcal,
            fiber_g=fiber_g,
            sugars_g=sugars_g,
            sat_fat_g=sat_fat_g,
            protein_g=protein_g,
            sodium_mg=sodium_mg,
            portion_g=portion_g,
            nova=nova,
        )
        _stdout().print(f"added {fid} ({name}) to {out_file}; use it with --foods {out_file}")


@food_app.command("alias")
def food_alias(
    phrase: str = typer.Argument(..., help='Your words, e.g. "my usual porridge".'),
    food_id: str = typer.Argument(..., help="The food: an FNDDS code, SR28 NDB number or your own food's id."),
    out_file: Path = typer.Option(..., "-o", "--out", help="Your aliases CSV (created, or a row is added)."),
    grams: float | None = typer.Option(None, "--grams", min=0.1, max=2000, help="Grams in one of your portions."),
) -> None:
    """Teach gutaxis your own words for a food (and your usual portion)."""
    with _guard():
        from .._outputs import check_output_file
        from ..lifestyle.own_foods import add_alias

        check_output_file(out_file, what="aliases CSV", example="my_words.csv")

        add_alias(out_file, phrase, food_id, grams)
        _stdout().print(f"'{phrase}' -> {food_id} saved in {out_file}; use it with --aliases {out_file}")


@diet_app.command("scores")
def diet_scores(
    meals: Path = typer.Argument(..., help="Meal log (CSV or JSON)."),
    out_dir: Path = typer.Option(
        ..., "-o", "--out", help="Folder for daily_scores.csv, weekly_scores.csv, resolved_meals.csv."
    ),
    stress: Path | None = typer.Option(None, "--stress", help="Stress log to join (CSV or JSON)."),
    sex: str | None = typer.Option(None, "--sex", help="female or male (fiber target 25 or 38 g/day)."),
    age: float | None = typer.Option(None, "--age", min=0, max=120, help="Age in years (targets change at 51)."),
    usda: Path | None = typer.Option(None, "--usda", help=_USDA_HELP),
    nova: Path | None = typer.Option(None, "--nova", help=_NOVA_HELP),
    foods: Path | None = typer.Option(
        None, "--foods", help="Your own foods (CSV, per 100 g), added to the USDA tables."
    ),
    fndds: Path | None = typer.Option(None, "--fndds", help=_FNDDS_HELP),
    sr28: Path | None = typer.Option(None, "--sr28", help=_SR28_HELP),
    aliases: Path | None = typer.Option(
        None, "--aliases", help="Your own words for foods (CSV phrase, food_id, grams)."
    ),
    dayfirst: bool = typer.Option(False, "--dayfirst", help=_DATES_HELP),
    monthfirst: bool = typer.Option(False, "--monthfirst", help="US date order (see --dayfirst)."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Daily and weekly diet scores (fiber, fermented, NOVA-4 share, sugars, saturated fat, DII parameters).

    The folder is written whole or not at all; a folder that already holds files needs --overwrite.
    """
    with _guard():
        from .._outputs import atomic_dir, check_output_dir
        from ..lifestyle._csvsafe import csv_safe
        from ..lifestyle.logs import write_table
        from ..lifestyle.scores import daily_scores, weekly_scores

        dates = _dayfirst(dayfirst, monthfirst)
        inputs = [meals, stress, usda, nova, foods, fndds, sr28, aliases]
        check_output_dir(out_dir, overwrite=overwrite, what="scores folder", inputs=inputs)
        items, st, table = _logged_meals(meals, stress, foods, usda, nova, fndds, sr28, aliases, dates)
        daily = daily_scores(items, table, sex=sex, age=age, stress=st)
        weekly = weekly_scores(daily)
        cov = to_fix = None
        if "counted" in items.columns:
            from ..lifestyle.assessment import entries_to_fix
            from ..lifestyle.resolve import coverage

            cov = coverage(items)
            to_fix = entries_to_fix(items)
        with atomic_dir(out_dir, overwrite=overwrite, what="scores folder", inputs=inputs) as tmp:
            write_table(items.drop(columns=["candidates"], errors="ignore"), tmp / "resolved_meals.csv")
            d = daily.copy()
            d.index = d.index.strftime("%Y-%m-%d")
            d.to_csv(tmp / "daily_scores.csv", index_label="date")
            if len(weekly):
                weekly.index = weekly.index.strftime("%Y-%m-%d")
            weekly.to_csv(tmp / "weekly_scores.csv", index_label="week_start")
            if to_fix is not None:
                csv_safe(to_fix).to_csv(tmp / "entries_to_fix.csv", index=False)
            files = sorted(p.name for p in tmp.iterdir())
        out = _stdout()
        if cov is not None:
            if not cov["ok"]:
                out.print(
                    f"[bold red]WARNING: {cov['message']}: these numbers are not your diet.[/] "
                    f"Fix the entries listed in {out_dir / 'entries_to_fix.csv'}"
                )
            else:
                out.print(cov["message"].capitalize())
        out.print(f"{len(daily)} days, {len(items)} foods ({int(daily['n_left_out'].sum())} left out of the scores)")
        out.print(
            f"mean fiber {daily['fiber_g'].mean():.1f} g/day (target {daily['fiber_target_g'].iloc[0]:.0f}); "
            f"sugars {daily['sugar_pct_energy'].mean():.1f}% energy (total sugars, proxy); "
            f"saturated fat {daily['sat_fat_pct_energy'].mean():.1f}% energy"
        )
        for name in ("daily_scores.csv", "weekly_scores.csv", "resolved_meals.csv", "entries_to_fix.csv"):
            if name in files:
                out.print(f"  {out_dir / name}")


@app.command("insights")
def insights_cmd(
    meals: Path = typer.Option(..., "--meals", help="Meal log (CSV or JSON)."),
    symptoms: Path = typer.Option(..., "--symptoms", help="Symptom log (CSV or JSON)."),
    stress: Path | None = typer.Option(None, "--stress", help="Stress log (CSV or JSON)."),
    out: Path = typer.Option(..., "-o", "--out", help="Folder for insights.csv, insights_skipped.csv, insights.json."),
    min_days: int = typer.Option(7, "--min-days", min=3, help="Days with and without a factor needed for a test."),
    fdr: float = typer.Option(
        0.05, "--fdr", callback=_fdr_range, help="False discovery rate (Benjamini-Hochberg), 0 < FDR <= 1."
    ),
    usda: Path | None = typer.Option(None, "--usda", help=_USDA_HELP),
    nova: Path | None = typer.Option(None, "--nova", help=_NOVA_HELP),
    foods: Path | None = typer.Option(
        None, "--foods", help="A personal food table (CSV, per 100 g) instead of USDA/NOVA."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """N-of-1 diary patterns: which factors go with which symptoms, with lags of 0-48 h and FDR control.

    The folder is written whole or not at all; a folder that already holds files needs --overwrite.
    """
    with _guard():
        import json

        from .._outputs import atomic_dir, check_output_dir
        from ..lifestyle._csvsafe import csv_safe
        from ..lifestyle.insights import factor_events, n_of_1, symptom_observations
        from ..lifestyle.logs import read_symptom_log

        inputs = [meals, symptoms, stress, usda, nova, foods]
        check_output_dir(out, overwrite=overwrite, what="insights folder", inputs=inputs)
        items, st, _ = _logged_meals(meals, stress, foods, usda, nova)
        sym = read_symptom_log(symptoms)
        res = n_of_1(factor_events(items, st), symptom_observations(sym), min_days=min_days, fdr=fdr)
        doc = (
            json.dumps(
                {"statement": res.statement, "findings": res.findings, "params": res.params}, indent=1, default=str
            )
            + "\n"
        )
        with atomic_dir(out, overwrite=overwrite, what="insights folder", inputs=inputs) as tmp:
            csv_safe(res.table).to_csv(tmp / "insights.csv", index=False)
            csv_safe(res.skipped).to_csv(tmp / "insights_skipped.csv", index=False)
            (tmp / "insights.json").write_text(doc, encoding="utf-8")
        console = _stdout()
        console.print(res.statement)
        for f in res.findings:
            console.print(f"  - {f}")
        for name in ("insights.csv", "insights_skipped.csv", "insights.json"):
            console.print(f"  {out / name}")
