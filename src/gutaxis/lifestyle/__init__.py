"""Act on it: food, stress and symptom logs, diet scores and N-of-1 insights.

* Food data: :func:`read_usda_abbrev` (USDA SR28), :func:`read_nova` + :func:`nova_for_sr`
  (NOVA groups of the FoodProX/GroceryDB training set), :func:`load_food_table`, the curated
  fermented-food list (:func:`fermented_foods`, :func:`classify_fermented`).
* Diaries as people type them: :func:`load_food_database` (USDA FNDDS 2017-2018 foods as eaten
  with their portions, SR28 and its household measures, cited dishes, your own foods and
  aliases), :class:`DiaryMatcher` ("2 eggs and toast" -> two foods with grams; spelling,
  British words, household portions, assumed portions flagged), :func:`resolve_diary` and
  :func:`coverage` (how much of the diary the scores stand on); Cronometer and MyFitnessPal
  exports (:func:`read_diary`); :func:`add_own_food` / :func:`add_alias`.
* Single-table matching (SR28 or a person's own table): :class:`FoodMatcher`,
  :func:`parse_portion`, favourites via :func:`read_aliases`.
* Logs: :func:`read_meal_log`, :func:`read_stress_log`, :func:`read_symptom_log`, :func:`write_log`.
* Instruments: :func:`score_pss10` (PSS-10, reverse items 4, 5, 7, 8), :func:`pss10_band`,
  :func:`bristol_group`.
* Scores: :func:`resolve_meals`, :func:`daily_scores`, :func:`weekly_scores`,
  :func:`inflammatory_score` (published DII parameters).
* N-of-1: :func:`factor_events`, :func:`symptom_observations`, :func:`n_of_1`.
* The personal plan: :func:`read_person` / :func:`example_person`, :func:`build_plan` (rules of
  ``data/recommendations.tsv``, each graded and cited, with the simulated effect on the person's
  twin), :func:`write_plan_reports` (person's HTML report, dietitian summary HTML + PDF, CSVs).

Everything here informs and never diagnoses: results are for a conversation with a clinician
or a registered dietitian.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "read_usda_abbrev": "foods",
    "read_nova": "foods",
    "nova_for_sr": "foods",
    "load_food_table": "foods",
    "default_usda_path": "foods",
    "default_nova_path": "foods",
    "fermented_foods": "fermented",
    "classify_fermented": "fermented",
    "fermented_flags": "fermented",
    "FoodMatcher": "matching",
    "FoodMatch": "matching",
    "Portion": "matching",
    "parse_portion": "matching",
    "read_aliases": "matching",
    "portion_grams": "matching",
    "read_meal_log": "logs",
    "read_stress_log": "logs",
    "read_symptom_log": "logs",
    "write_log": "logs",
    "score_pss10": "stress",
    "pss10_band": "stress",
    "pss10_questions": "stress",
    "PSS10_ANSWERS": "stress",
    "daily_stress": "stress",
    "PSS10_BAND_CAVEAT": "stress",
    "bristol_group": "symptoms",
    "bristol_scale": "symptoms",
    "daily_symptoms": "symptoms",
    "dii_parameters": "dii",
    "inflammatory_score": "dii",
    "dii_intakes_from_foods": "dii",
    "diet_targets": "scores",
    "fiber_target": "scores",
    "resolve_meals": "scores",
    "daily_scores": "scores",
    "weekly_scores": "scores",
    "nova_energy_share": "scores",
    "n_of_1": "insights",
    "Insights": "insights",
    "factor_events": "insights",
    "symptom_observations": "insights",
    "benjamini_hochberg": "insights",
    "Person": "person",
    "read_person": "person",
    "example_person": "person",
    "person_foods": "person",
    "read_food_table": "person",
    "assess": "plan",
    "build_plan": "plan",
    "Plan": "plan",
    "simulate_plan_effect": "plan",
    "recommendations": "plan",
    "write_plan_reports": "report",
    "read_fndds": "fndds",
    "read_fndds_portions": "fndds",
    "read_sr28_weights": "fndds",
    "FoodDatabase": "fooddb",
    "load_food_database": "fooddb",
    "food_database_for": "fooddb",
    "DiaryMatcher": "diary",
    "ItemMatch": "diary",
    "resolve_diary": "resolve",
    "coverage": "resolve",
    "coverage_by_day": "resolve",
    "read_diary": "imports",
    "read_cronometer": "imports",
    "read_myfitnesspal": "imports",
    "detect_diary_format": "imports",
    "add_own_food": "own_foods",
    "add_alias": "own_foods",
    "entries_to_fix": "assessment",
    "nutrient_intakes": "assessment",
    "top_foods": "assessment",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'gutaxis.lifestyle' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
