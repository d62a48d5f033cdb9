"""The person's logging side: meals, symptoms, stress, PSS-10, the weekly diary and diary imports.

References are independent of the code under test: portion grams are read from the FNDDS CSV
here, NOVA groups from the GroceryDB table, the PSS-10 total is worked by hand, import totals are
summed from the CSV the test writes.
"""

from __future__ import annotations

import csv
import html as htmllib
import re
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_lifestyle_imports import PUBLISHED_CRONOMETER as CRONOMETER_HEADER  # the published header, one copy

SHARED = Path(__file__).resolve().parents[2].parent / "shared"  # as tests/web/conftest.py
PASSWORD = "correct horse battery staple"
FNDDS = SHARED / "data" / "fndds_portions"
NOVA_CSV = (
    SHARED
    / "data"
    / "nova_fndds_sr_grocerydb"
    / "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv"
)
needs_food = pytest.mark.skipif(
    not (FNDDS / "fndds_2017_2018_portions_and_weights.csv").is_file(),
    reason="needs the FNDDS tables of ../shared (gutaxis datasets fetch fndds_2017_2018)",
)

MFP_HEADER = (  # noqa: SIM905 - the header line of shared/science/webapp.md
    "Date,Meal,Calories,Fat (g),Saturated Fat,Polyunsaturated Fat,Monounsaturated Fat,Trans Fat,Cholesterol,"
    "Sodium (mg),Potassium,Carbohydrates (g),Fiber,Sugar,Protein (g),Vitamin A,Vitamin C,Calcium,Iron,"
    "Note"
).split(",")


# ----------------------------------------------------------------------------- helpers


def rows(app, model, person_id):
    with app.state.sessions() as db:
        return list(db.scalars(select(model).where(model.person_id == person_id).order_by(model.id)))


def count(app, model, person_id) -> int:
    with app.state.sessions() as db:
        return db.scalar(select(func.count()).select_from(model).where(model.person_id == person_id))


def fndds_portion(food_description: str, portion: str) -> tuple[str, float]:
    """(food code, grams) of one portion, read straight from the FNDDS portions CSV."""
    with open(FNDDS / "fndds_2017_2018_portions_and_weights.csv", encoding="utf-8-sig", newline="") as fh:
        r = csv.reader(fh)
        next(r)  # the title record
        header = next(r)
        i_code, i_desc = header.index("Food code"), header.index("Main food description")
        i_por, i_g = header.index("Portion description"), header.index("Portion weight (g)")
        for rec in r:
            if len(rec) > i_g and rec[i_desc] == food_description and rec[i_por] == portion:
                return rec[i_code], float(rec[i_g])
    raise AssertionError(f"no {portion!r} portion of {food_description!r} in FNDDS")


def fndds_value(food_code: str, column: str) -> float:
    """One nutrient value per 100 g, read straight from the FNDDS nutrient CSV."""
    with open(FNDDS / "fndds_2017_2018_nutrient_values.csv", encoding="utf-8-sig", newline="") as fh:
        r = csv.reader(fh)
        next(r)  # the title record
        header = [h.replace("\n", " ").strip() for h in next(r)]
        i_code, i_val = header.index("Food code"), header.index(column)
        for rec in r:
            if rec and rec[i_code] == food_code:
                return float(rec[i_val])
    raise AssertionError(f"{food_code} not in FNDDS")


def nova_of(food_code: str) -> int:
    """The NOVA class GroceryDB gives an FNDDS food code (its most recent FNDDS year)."""
    best = None
    with open(NOVA_CSV, encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            if rec["Food code"] == str(int(food_code)) and rec["year FNDDS"]:
                year = int(float(rec["year FNDDS"]))
                if best is None or year > best[0]:
                    best = (year, int(rec["novaclass"]))
    assert best is not None, f"{food_code} not in GroceryDB"
    return best[1]


def text_of(page: str) -> str:
    """The page's text as a reader sees it (tags dropped, entities decoded, spaces collapsed)."""
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", page)))


def log_meal(b, text, **extra):
    r = b.post_form("/log/meal", {"text": text, **extra})
    assert r.status_code == 303, r.text[:800]
    return r


def write_csv(path, header, body):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(body)
    return path


def cronometer_row(day, tm, group, name, amount, kcal, fiber, sat_fat="", omega3=""):
    row = [""] * len(CRONOMETER_HEADER)
    put = dict(zip(CRONOMETER_HEADER, range(len(CRONOMETER_HEADER)), strict=True))
    row[put["Day"]], row[put["Time"]], row[put["Group"]] = day, tm, group
    row[put["Food Name"]], row[put["Amount"]] = name, amount
    row[put["Energy (kcal)"]], row[put["Fiber (g)"]] = kcal, fiber
    row[put["Saturated (g)"]], row[put["Omega-3 (g)"]] = sat_fat, omega3
    row[put["Category"]] = "Test"
    return row


def upload(b, path, name=None):
    with open(path, "rb") as fh:
        return b.post_form("/import", files={"file": (name or path.name, fh, "text/csv")})


def signup_like(person, app, email):
    """Another person on ``app``, in a browser of the same kind as the ``person`` fixture's."""
    from gutaxis.web.models import User

    b = type(person)(app)
    r = b.post_form("/signup", {"email": email, "password": PASSWORD, "role": "person", "name": "Sam"})
    assert r.status_code == 303, r.text[:300]
    with app.state.sessions() as db:
        b.user_id = db.scalar(select(User.id).where(User.email == email))
    return b


def iso_week(d) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


# ----------------------------------------------------------------------------- meals


@needs_food
def test_one_cup_kimchi_plain_post_and_redirect(app, person):
    from gutaxis.web.models import MealEntry

    code, cup_g = fndds_portion("Kimchi", "1 cup")
    r = log_meal(person, "1 cup kimchi")  # a plain form POST, no JavaScript: 303 to the page showing it
    m = re.fullmatch(r"/log\?entry=(\d+)(#new-entry)?", r.headers["location"])
    assert m
    (entry,) = rows(app, MealEntry, person.user_id)
    assert entry.id == int(m.group(1)) and entry.source == "typed" and entry.text == "1 cup kimchi"
    (item,) = entry.items
    assert item["food_id"] == code and "kimchi" in item["description"].lower()
    assert item["grams"] == pytest.approx(cup_g) and item["status"] == "matched" and item["counted"]
    assert item["fermented"] and item["live_cultures"] == "yes"
    page = person.html(r.headers["location"])
    assert page.status_code == 200
    new = page.text.split('id="new-entry"', 1)[1].split("</section>", 1)[0]
    assert "Kimchi" in new and f"{cup_g:.0f} g" in new and "fermented" in new
    assert f"NOVA {nova_of(code)}" in new


@needs_food
def test_nova4_badge_and_assumed_portion_note(app, person):
    from gutaxis.web.models import MealEntry

    log_meal(person, "a coke")
    (entry,) = rows(app, MealEntry, person.user_id)
    (item,) = entry.items
    assert nova_of(item["food_id"]) == 4 and item["nova"] == 4
    assert item["portion_assumed"] and "assumed" in item["note"]
    page = text_of(person.html(f"/log?entry={entry.id}").text)
    assert "NOVA 4 ultra-processed" in page and "portion assumed" in page


@needs_food
def test_spelling_and_not_matched_entries_are_kept_and_explained(app, person):
    from gutaxis.web.models import MealEntry

    log_meal(person, "brocolli")
    log_meal(person, "zzqx blorp")
    a, b = rows(app, MealEntry, person.user_id)
    assert a.items[0]["counted"] and "spelling read as" in a.items[0]["note"]
    assert not b.items[0]["counted"] and b.items[0]["status"] == "unmatched"
    page = text_of(person.html(f"/log?entry={b.id}").text)
    assert "not matched: not counted" in page and "write it another way" in page


@needs_food
def test_hide_numbers_hides_grams(app, person):
    _, cup_g = fndds_portion("Kimchi", "1 cup")
    r = person.post_form("/account/profile", {"hide_numbers": "on"})
    assert r.status_code == 303
    r = log_meal(person, "1 cup kimchi")
    page = person.html(r.headers["location"]).text
    new = page.split('id="new-entry"', 1)[1].split("</section>", 1)[0]
    assert "Kimchi" in new and "fermented" in new
    assert f"{cup_g:.0f} g" not in new and not re.search(r"\d+ g\b", new) and "kcal" not in page
    r = log_meal(person, "a coke")  # its note says which usual portion was assumed: without the grams
    page = text_of(person.html(r.headers["location"]).text)
    assert "portion assumed" in page and not re.search(r"\d+ g\b", page)
    week = person.html("/diary").text
    assert not re.search(r"\b\d+ g\b", text_of(week))


def test_same_client_id_three_times_stores_once(app, person):
    from gutaxis.web.models import MealEntry, StressEntry, SymptomEntry

    for path, data, model in (
        ("/log/meal", {"text": "1 apple"}, MealEntry),
        ("/log/symptom", {"symptom": "bloating", "rating": "4"}, SymptomEntry),
        ("/log/stress", {"rating": "6"}, StressEntry),
    ):
        cid = str(uuid.uuid4())
        for _ in range(3):
            r = person.post_form(path, {**data, "client_id": cid})
            assert r.status_code == 303
        assert count(app, model, person.user_id) == 1, path


def test_meal_form_is_accessible_and_escapes(app, person):
    page = person.html("/log")
    assert page.status_code == 200
    html = page.text
    assert 'name="text"' in html and "What did you eat?" in html
    forms = re.findall(r"<form[^>]*>.*?</form>", html, flags=re.DOTALL)
    assert all('name="csrf_token"' in f for f in forms)
    assert all('name="client_id"' in f for f in forms if "/logout" not in f)
    _labelled(html)
    log_meal(person, "<script>alert(1)</script> toast")
    again = person.html("/log").text
    assert "<script>alert(1)</script>" not in again and "&lt;script&gt;alert(1)&lt;/script&gt;" in again


def _labelled(html: str) -> None:
    """Every visible input has a <label for>, radio groups sit in a fieldset with a legend, no positive tabindex."""
    ids = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if 'type="hidden"' in tag:
            continue
        m = re.search(r'\bid="([^"]+)"', tag)
        assert m and m.group(1) in ids, f"no label for {tag}"
    assert not re.search(r'tabindex="[1-9]', html)
    for fs in re.findall(r"<fieldset>.*?</fieldset>", html, flags=re.DOTALL):
        assert "<legend>" in fs
    radios = re.findall(r'<input type="radio"', html)
    assert len(radios) == sum(
        f.count('type="radio"') for f in re.findall(r"<fieldset>.*?</fieldset>", html, flags=re.DOTALL)
    )


def test_meal_errors_rerender_with_400(app, person):
    from gutaxis.web.models import MealEntry

    future = (datetime.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    for data, words in (
        ({"text": "  "}, "Write what you ate"),
        ({"text": "toast", "meal": "brunch"}, "Meal: choose"),
        ({"text": "toast", "eaten_at": future}, "in the future"),
        ({"text": "toast", "eaten_at": "yesterday"}, "not a date and time"),
    ):
        r = person.post_form("/log/meal", data)
        assert r.status_code == 400 and 'role="alert"' in r.text and words in r.text, data
    assert count(app, MealEntry, person.user_id) == 0


def test_missing_client_id_refused(app, person):
    r = person.post_form("/log/meal", {"text": "toast", "client_id": ""})
    assert r.status_code == 400


def test_recent_quick_buttons_relog_now(app, person):
    from gutaxis.web.models import MealEntry

    log_meal(person, "porridge with milk", meal="breakfast")
    log_meal(person, "1 apple")
    html = person.html("/log").text
    recent = html.split("<h3>Recent</h3>", 1)[1].split("</ul>", 1)[0]
    assert recent.index("1 apple") < recent.index("porridge with milk")  # newest first
    form = re.search(
        r'<form method="post" action="/log/meal"[^>]*>(?:(?!</form>).)*porridge with milk(?:(?!</form>).)*</form>',
        recent,
        flags=re.DOTALL,
    ).group(0)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
    before = datetime.now().replace(second=0, microsecond=0)
    r = person.c.post("/log/meal", data=fields, headers={"accept": "text/html"})
    assert r.status_code == 303
    last = rows(app, MealEntry, person.user_id)[-1]
    assert last.text == "porridge with milk" and last.meal == "breakfast" and last.eaten_at >= before


def test_same_as_yesterday_copies_once(app, person):
    from gutaxis.web.models import MealEntry

    y = datetime.now() - timedelta(days=1)
    for t, text in ((8, "2 eggs and toast"), (13, "lentil soup")):
        log_meal(person, text, eaten_at=y.replace(hour=t, minute=5).strftime("%Y-%m-%dT%H:%M"))
    cid = str(uuid.uuid4())
    for _ in range(3):
        r = person.post_form("/log/repeat-yesterday", {"client_id": cid})
        assert r.status_code == 303 and r.headers["location"] == "/log?repeated=2"
    got = rows(app, MealEntry, person.user_id)
    copies = [e for e in got if e.source == "repeat"]
    assert len(got) == 4 and len(copies) == 2
    assert {(e.text, e.eaten_at.date(), e.eaten_at.hour) for e in copies} == {
        ("2 eggs and toast", datetime.now().date(), 8),
        ("lentil soup", datetime.now().date(), 13),
    }
    assert "logged again for today" in person.html("/log?repeated=2").text


# ----------------------------------------------------------------------------- symptoms and stress


def test_symptom_rating_11_refused_nothing_stored(app, person):
    from gutaxis.web.models import SymptomEntry

    r = person.post_form("/log/symptom", {"symptom": "joint pain", "rating": "11"})
    assert r.status_code == 400
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', r.text, flags=re.DOTALL).group(1)
    assert "Rating" in alert and "0 to 10" in alert
    assert count(app, SymptomEntry, person.user_id) == 0
    for bad in (
        {"symptom": "other", "symptom_other": "", "rating": "3"},
        {"symptom": "pain", "rating": ""},
        {"which": "bristol", "bristol": "8"},
        {"which": "bristol", "bristol": "2.5"},
        {"symptom": "pain", "rating": "3", "onset": "not a time"},
    ):
        assert person.post_form("/log/symptom", bad).status_code == 400, bad
    assert count(app, SymptomEntry, person.user_id) == 0


def test_symptom_onset_custom_name_and_bristol(app, person):
    from gutaxis.web.models import SymptomEntry

    onset = (datetime.now() - timedelta(hours=2)).replace(second=0, microsecond=0)
    r = person.post_form(
        "/log/symptom",
        {
            "symptom": "other",
            "symptom_other": "  Head   Ache ",
            "rating": "7",
            "onset": onset.strftime("%Y-%m-%dT%H:%M"),
            "note": "after lunch",
        },
    )
    assert r.status_code == 303
    r = person.post_form("/log/symptom", {"which": "bristol", "bristol": "4"})
    assert r.status_code == 303
    a, b = rows(app, SymptomEntry, person.user_id)
    assert (a.symptom, a.rating, a.onset, a.note) == ("head ache", 7.0, onset, "after lunch") and a.at >= a.onset
    assert b.bristol == 4 and b.rating is None and b.symptom == ""
    page = text_of(person.html("/log").text)
    assert "head ache 7/10" in page and "stool type 4" in page


def test_stress_rating_and_practice(app, person):
    from gutaxis.web.models import StressEntry

    assert person.post_form("/log/stress", {"practice": "yoga"}).status_code == 400
    assert person.post_form("/log/stress", {"minutes": "20"}).status_code == 400
    assert person.post_form("/log/stress", {"practice": "juggling", "minutes": "20"}).status_code == 400
    assert person.post_form("/log/stress", {"rating": "12"}).status_code == 400
    assert count(app, StressEntry, person.user_id) == 0
    assert (
        person.post_form("/log/stress", {"rating": "6", "practice": "meditation", "minutes": "15"}).status_code == 303
    )
    (e,) = rows(app, StressEntry, person.user_id)
    assert (e.rating, e.practice, e.minutes, e.pss_total) == (6.0, "meditation", 15.0, None)


def test_pss10_total_is_hand_worked_and_banded(app, person):
    from gutaxis.web.models import StressEntry

    page = person.html("/pss").text
    assert page.count("<fieldset>") == 10 and page.count("<legend>") == 10
    assert "been upset because of something that happened unexpectedly" in page
    _labelled(page)
    answers = [3, 1, 4, 0, 2, 3, 1, 0, 2, 4]
    # items 1, 2, 3, 6, 9, 10 as given: 3+1+4+3+2+4 = 17; items 4, 5, 7, 8 reversed (4 - x): 4+2+3+4 = 13
    expected = 30
    data = {f"pss_{i}": str(a) for i, a in enumerate(answers, start=1)}
    partial = dict(data)
    del partial["pss_7"]
    r = person.post_form("/pss", partial)
    assert r.status_code == 400 and "question 7" in r.text and 'role="alert"' in r.text
    assert count(app, StressEntry, person.user_id) == 0
    r = person.post_form("/pss", data)
    assert r.status_code == 303
    (e,) = rows(app, StressEntry, person.user_id)
    assert e.pss_items == answers and e.pss_total == expected
    shown = text_of(person.html(r.headers["location"]).text)
    assert f"Your score: {expected} of 40" in shown and "Band: high" in shown and "not validated" in shown


# ----------------------------------------------------------------------------- the diary


@needs_food
def test_diary_charts_are_safe_svg_with_tables(app, person):
    from gutaxis.web.models import StressEntry

    monday = datetime.now().date() - timedelta(days=datetime.now().weekday() + 7)  # last week: all 7 days past
    for k, text in enumerate(("1 cup kimchi", "1 cup cooked lentils", "1 apple", "1 cup plain yogurt")):
        day = datetime.combine(monday + timedelta(days=k), datetime.min.time()).replace(hour=12)
        log_meal(person, text, eaten_at=day.strftime("%Y-%m-%dT%H:%M"))
        assert person.post_form("/log/stress", {"rating": str(3 + k)}).status_code == 303
        with app.state.sessions() as db:  # the stress form logs today; move it to that day
            db.scalars(select(StressEntry).order_by(StressEntry.id.desc())).first().at = day
            db.commit()
    r = person.html(f"/diary?week={iso_week(monday)}")
    assert r.status_code == 200
    page = r.text
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)
    assert len(svgs) >= 4
    for svg in svgs:
        assert "<title" in svg
    assert "<style" not in page and "style=" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", page)  # only the app's own script file, no inline code
    assert "as a table" in page and "<caption>" in page

    def table(caption):
        t = page.split(f"<caption>{caption}</caption>", 1)[1].split("</table>", 1)[0]
        return re.findall(r"<td>([^<]*)</td>", t)

    # Monday: 1 cup kimchi = the FNDDS cup (150 g) x FNDDS fiber per 100 g; a serving of kimchi is 75 g
    code, cup_g = fndds_portion("Kimchi", "1 cup")
    fiber = cup_g * fndds_value(code, "Fiber, total dietary (g)") / 100
    fib = table("Fiber per day")
    assert fib[0] == f"{fiber:.0f}" and fib[4:] == ["no data"] * 3  # days without meals are "no data", never 0
    assert table("Fermented servings with live cultures")[0] == f"{cup_g / 75:.1f}"
    assert table("Stress (0-10)")[:5] == ["3", "4", "5", "6", "no data"]
    assert "Kimchi" in page and iso_week(monday) in page  # the week is in the week picker


@needs_food
def test_diary_says_first_when_most_is_not_counted(app, person):
    monday = datetime.now().date() - timedelta(days=datetime.now().weekday() + 7)
    for k, text in enumerate(("zzqx blorp", "qqwv frob", "1 apple", "vvkk plim")):
        day = datetime.combine(monday + timedelta(days=k), datetime.min.time()).replace(hour=9)
        log_meal(person, text, eaten_at=day.strftime("%Y-%m-%dT%H:%M"))
    html = person.html(f"/diary?week={iso_week(monday)}").text
    warn = html.find("Most of this week could not be counted")
    assert warn != -1 and "only 1 of 4 entries could be counted" in html
    first_chart = min(i for i in (html.find("<svg"), html.find("Not enough data yet")) if i != -1)
    assert warn < first_chart


def test_diary_not_enough_data_and_bad_week(app, person):
    log_meal(person, "1 apple")
    html = person.html("/diary").text
    assert "Not enough data yet" in html and "<svg" not in html
    r = person.html("/diary?week=2026-W99")
    assert r.status_code == 200 and "YYYY-Www" in r.text


def test_diary_opens_on_the_latest_logged_week_when_this_week_is_empty(app, person):
    # a Monday morning: the person logged until yesterday; the diary must not open on an empty week
    last_monday = datetime.now().date() - timedelta(days=datetime.now().weekday() + 7)
    log_meal(
        person,
        "1 apple",
        eaten_at=datetime.combine(last_monday, datetime.min.time()).replace(hour=8).strftime("%Y-%m-%dT%H:%M"),
    )
    page = person.html("/diary").text
    assert f"Diary: week of {last_monday.strftime('%d %B %Y')}" in page
    assert "Nothing logged yet in the week of" in page
    this_week = iso_week(datetime.now().date())
    asked = person.html(f"/diary?week={this_week}").text  # asked for by name, this week is shown as it is
    assert "Nothing logged yet" not in asked and "Not enough data yet" in asked
    log_meal(person, "1 apple")  # once this week has an entry, it is the default again
    assert "Nothing logged yet" not in person.html("/diary").text


def test_symptom_chart_from_lifestyle_daily_symptoms(app, person):
    from gutaxis.web.models import SymptomEntry

    monday = datetime.now().date() - timedelta(days=datetime.now().weekday() + 7)
    ratings = [2, 5, 3]
    for k, v in enumerate(ratings):
        onset = datetime.combine(monday + timedelta(days=k), datetime.min.time()).replace(hour=10)
        person.post_form(
            "/log/symptom", {"symptom": "bloating", "rating": str(v), "onset": onset.strftime("%Y-%m-%dT%H:%M")}
        )
    # stored "at" is the time noted (now); the diary charts by onset, as read_symptom_log does
    with app.state.sessions() as db:
        for e in db.scalars(select(SymptomEntry)):
            e.at = e.onset
        db.commit()
    html = person.html(f"/diary?week={iso_week(monday)}").text
    table = html.split("<caption>Symptoms (worst of the day, 0-10)</caption>", 1)[1].split("</table>", 1)[0]
    assert [int(x) for x in re.findall(r"<td>(\d+)</td>", table)] == ratings


# ----------------------------------------------------------------------------- imports


@needs_food
def test_cronometer_import_keeps_the_files_fiber(app, person, settings, tmp_path):
    from gutaxis.web.models import MealEntry, Upload

    body = [
        cronometer_row("2024-05-06", "7:45 AM", "Breakfast", "Kimchi", "1.00 cup", "23.00", "2.40", "0.10"),
        cronometer_row("2024-05-06", "12:30 PM", "Lunch", "Lentils, Boiled", "1.00 cup", "230.00", "15.60", "0.13"),
        cronometer_row("2024-05-07", "", "Dinner", "Broccoli, Raw", "100.00 g", "34.00", "2.60", ""),
    ]
    path = write_csv(tmp_path / "servings.csv", CRONOMETER_HEADER, body)
    r = upload(person, path, name="../../etc/my servings.csv")
    assert r.status_code == 303 and r.headers["location"].startswith("/import?upload=")
    (up,) = rows(app, Upload, person.user_id)
    assert up.kind == "cronometer" and up.status == "done" and up.filename == "my servings.csv"
    assert "servings" not in up.stored_name and (settings.upload_dir / up.stored_name).is_file()
    got = rows(app, MealEntry, person.user_id)
    assert len(got) == 3 and {e.source for e in got} == {"cronometer"}
    file_fiber = [float(b[CRONOMETER_HEADER.index("Fiber (g)")]) for b in body]
    assert [e.nutrients["fiber_g"] for e in got] == pytest.approx(file_fiber)
    assert [e.items[0]["fiber_g"] for e in got] == pytest.approx(file_fiber)
    assert got[2].nutrients["sat_fat_g"] is None  # a blank cell is not known, not 0
    kimchi = got[0]
    assert kimchi.items[0]["fermented"] and kimchi.items[0]["usda_description"]
    assert (kimchi.eaten_at, kimchi.meal) == (datetime(2024, 5, 6, 7, 45), "breakfast")
    page = text_of(person.html(r.headers["location"]).text)
    assert "Done: 3 entries over 2 days (3 new)" in page
    # the diary of that week scores the file's own fiber
    html = person.html("/diary?week=2024-W19").text
    assert "Kimchi" in html and "(cronometer)" in html
    # running the job again stores nothing twice
    from gutaxis.web import jobs
    from gutaxis.web.models import Job

    with app.state.sessions() as db:
        job = db.scalar(select(Job))
        job.status, job.attempts = "queued", 0
        db.commit()
    jobs.run_pending(app.state.sessions, settings)
    assert count(app, MealEntry, person.user_id) == 3


def test_myfitnesspal_meal_totals_and_limited_notice(app, person, tmp_path):
    from gutaxis.web.models import MealEntry, Upload

    body = [
        [
            "2024-05-06",
            "Breakfast",
            "412",
            "12.1",
            "3.9",
            "1.8",
            "4.6",
            "0.0",
            "198",
            "385",
            "610",
            "54.3",
            "6.2",
            "18.4",
            "22.5",
            "12",
            "25",
            "20",
            "15",
            "",
        ],
        [
            "2024-05-06",
            "Snacks",
            "188",
            "9.1",
            "3.2",
            "1.2",
            "4.0",
            "0.0",
            "10",
            "120",
            "240",
            "24.5",
            "2.0",
            "15.2",
            "4.1",
            "2",
            "10",
            "6",
            "4",
            "",
        ],
    ]
    path = write_csv(tmp_path / "Nutrition-Summary.csv", MFP_HEADER, body)
    r = upload(person, path)
    assert r.status_code == 303
    (up,) = rows(app, Upload, person.user_id)
    assert up.kind == "myfitnesspal" and up.status == "done" and up.result["limited"]
    got = rows(app, MealEntry, person.user_id)
    assert [(e.meal, e.source) for e in got] == [("breakfast", "myfitnesspal"), ("snack", "myfitnesspal")]
    assert [e.nutrients["fiber_g"] for e in got] == [6.2, 2.0]
    assert [e.nutrients["energy_kcal"] for e in got] == [412.0, 188.0]
    assert not any(k.startswith(("vitamin_a", "vitamin_c", "calcium", "iron")) for e in got for k in e.nutrients)
    page = text_of(person.html(r.headers["location"]).text)
    assert "Limited scores" in page and "% of daily value" in page and "Vitamin A" in page
    assert "Limited scores" in person.html("/diary?week=2024-W19").text


def test_bad_file_shows_row_and_column(app, person, settings, tmp_path):
    from gutaxis.web.models import MealEntry, Upload

    body = [
        cronometer_row("2024-05-06", "7:45 AM", "Breakfast", "Kimchi", "1.00 cup", "23.00", "2.40"),
        cronometer_row("06/05/2024", "8:00 AM", "Breakfast", "Toast", "1 slice", "80", "1.0"),
    ]
    path = write_csv(tmp_path / "bad.csv", CRONOMETER_HEADER, body)
    r = upload(person, path)
    assert r.status_code == 303
    (up,) = rows(app, Upload, person.user_id)
    assert up.status == "failed" and count(app, MealEntry, person.user_id) == 0
    page = text_of(person.html(r.headers["location"]).text)
    assert "Not imported" in page and "row 3, column 'Day'" in page and "bad.csv" in page
    assert str(settings.upload_dir) not in page and up.stored_name not in page
    # a file that is no diary at all
    other = tmp_path / "notes.csv"
    other.write_text("a,b\n1,2\n")
    upload(person, other)
    page = text_of(person.html("/import").text)
    assert "not a diary format gutaxis reads" in page


@needs_food
def test_gutaxis_meal_log_import_keeps_sr28_numbers_and_grams(app, person, tmp_path):
    from gutaxis.web.models import MealEntry, Upload

    log = tmp_path / "meals.csv"
    log.write_text(
        "timestamp,text,ndb_no,grams,meal\n2024-05-06T08:00,1 cup kimchi,,,breakfast\n"
        "2024-05-06T10:00,,09040,120,snack\n"
    )
    r = upload(person, log)
    assert r.status_code == 303
    (up,) = rows(app, Upload, person.user_id)
    assert (up.kind, up.status) == ("diary", "done")
    a, b = rows(app, MealEntry, person.user_id)
    _, cup_g = fndds_portion("Kimchi", "1 cup")
    assert a.source == "gutaxis" and a.items[0]["grams"] == pytest.approx(cup_g)
    assert b.nutrients == {"ndb_no": "09040", "grams": 120.0}
    assert (b.items[0]["food_id"], b.items[0]["grams"], b.items[0]["status"]) == ("09040", 120.0, "given")
    html = person.html("/diary?week=2024-W19").text
    assert "Kimchi" in html and "BANANAS,RAW" in html and "(gutaxis)" in html


def test_import_same_client_id_once_and_size_cap(app, person, settings, tmp_path):
    from gutaxis.web.models import Upload

    path = write_csv(
        tmp_path / "Nutrition-Summary.csv",
        MFP_HEADER,
        [["2024-05-06", "Lunch", "500", "", "", "", "", "", "", "", "", "", "3", "", "", "", "", "", "", ""]],
    )
    cid = str(uuid.uuid4())
    for _ in range(3):
        with open(path, "rb") as fh:
            r = person.post_form("/import", {"client_id": cid}, files={"file": (path.name, fh, "text/csv")})
        assert r.status_code == 303
    assert count(app, Upload, person.user_id) == 1
    assert len(list(settings.upload_dir.iterdir())) == 1
    settings.max_upload = 1000
    big = tmp_path / "big.csv"
    big.write_bytes(b"Date,Meal,Calories\n" + b"2024-05-06,Lunch,500\n" * 200)
    r = upload(person, big)
    assert r.status_code == 413 and count(app, Upload, person.user_id) == 1
    assert len(list(settings.upload_dir.iterdir())) == 1


# ----------------------------------------------------------------------------- without food tables, and access


def test_without_food_tables_entries_are_kept_and_the_page_says_what_to_run(person, settings, tmp_path):
    from gutaxis.web.app import create_app
    from gutaxis.web.models import MealEntry

    bare = replace(settings, data_dir=tmp_path / "bare", database_url=None, fndds=None, sr28=None, usda=None, nova=None)
    app = create_app(bare)
    b = signup_like(person, app, "nofood@example.org")
    page = text_of(b.html("/log").text)
    assert "gutaxis datasets fetch fndds_2017_2018" in page and "usda_sr28_full" in page
    r = log_meal(b, "1 cup kimchi")
    (e,) = rows(app, MealEntry, b.user_id)
    assert e.items[0]["status"] == "not matched" and not e.items[0]["counted"]
    shown = text_of(b.html(r.headers["location"]).text)
    assert "not matched" in shown and "gutaxis datasets fetch fndds_2017_2018" in shown
    assert "gutaxis datasets fetch fndds_2017_2018" in text_of(b.html("/diary").text)


def test_person_pages_need_a_person(app, dietitian):
    for path in ("/log", "/pss", "/diary", "/import"):
        assert dietitian.html(path).status_code == 404
    anon = type(dietitian)(app)
    for path in ("/log", "/pss", "/diary", "/import"):
        r = anon.html(path)
        assert r.status_code == 303 and r.headers["location"] == "/login"
    r = anon.c.post("/log/meal", data={"text": "toast"})
    assert r.status_code in (401, 403)


def test_post_without_csrf_token_refused(app, person):
    from gutaxis.web.models import MealEntry

    r = person.c.post("/log/meal", data={"text": "toast", "client_id": str(uuid.uuid4())})
    assert r.status_code == 403 and count(app, MealEntry, person.user_id) == 0


def test_other_persons_entry_not_shown(app, person):
    other = signup_like(person, app, "sam@example.org")
    log_meal(other, "secret soup")
    from gutaxis.web.models import MealEntry

    (e,) = rows(app, MealEntry, other.user_id)
    assert "secret soup" not in person.html(f"/log?entry={e.id}").text


def test_charts_viewed_right_after_an_entry_say_what_they_do_not_count_yet(app, person, monkeypatch):
    from gutaxis.web.routes import diary

    log_meal(person, "1 cup kimchi")
    first = person.html("/diary").text
    assert "do not include" not in first
    log_meal(person, "1 apple")  # within the refresh window: the charts are not recomputed yet, and say so
    page = person.html("/diary").text
    assert "do not include your 1 newest entry yet" in page and "1 apple" in page
    monkeypatch.setattr(diary, "REFRESH_S", 0.0)  # after the window: recomputed with the new entry
    assert "do not include" not in person.html("/diary").text


@pytest.mark.parametrize(
    "dates, expected",
    [
        ("dayfirst", [(3, 4), (3, 5)]),  # 4 and 5 March (UK)
        ("monthfirst", [(4, 3), (5, 3)]),
    ],
)  # April 3 and May 3 (US)
def test_a_hand_kept_log_with_uk_or_us_dates_is_read_the_way_the_person_says(app, person, dates, expected):
    from gutaxis.web.models import MealEntry, Upload

    log = (
        "timestamp,meal,text\n04/03/2024 08:00,breakfast,porridge with blueberries\n"
        "05/03/2024 12:30,lunch,2 eggs and toast\n"
    )
    files = {"file": ("my-log.csv", log.encode(), "text/csv")}
    r = person.post_form("/import", {"dates": "detect"}, files=files, page="/import")
    assert r.status_code == 303
    with app.state.sessions() as db:
        up = db.scalars(select(Upload).order_by(Upload.id.desc())).first()
        assert up.status == "failed" and "choose under Dates" in up.error  # 04/03 and 05/03 decide nothing
        assert db.scalar(select(MealEntry.id)) is None
    r = person.post_form("/import", {"dates": dates}, files=files, page="/import")
    assert r.status_code == 303
    with app.state.sessions() as db:
        got = sorted(m.eaten_at for m in db.scalars(select(MealEntry)))
    assert [(d.month, d.day) for d in got] == expected


def test_a_spreadsheet_diary_with_date_time_and_food_columns_is_imported(app, person):
    """Date, Time, Meal, Food as typed in a spreadsheet (UK dates; 13/03 decides the order); the
    note column is shown as not stored, never dropped unseen."""
    from gutaxis.web.models import MealEntry, Upload

    log = (
        "Date,Time,Meal,Food,Note\n04/03/2024,8.15,Breakfast,porridge with blueberries,\n"
        "13/03/2024,,Lunch,2 eggs and toast,felt fine\n"
    )
    files = {"file": ("my week.csv", log.encode(), "text/csv")}
    r = person.post_form("/import", {"dates": "detect"}, files=files, page="/import")
    assert r.status_code == 303
    with app.state.sessions() as db:
        up = db.scalars(select(Upload).order_by(Upload.id.desc())).first()
        assert up.status == "done", up.error
        got = sorted((m.eaten_at, m.meal, m.text) for m in db.scalars(select(MealEntry)))
    assert got == [
        (datetime(2024, 3, 4, 8, 15), "breakfast", "porridge with blueberries"),
        (datetime(2024, 3, 13, 0, 0), "lunch", "2 eggs and toast"),
    ]
    page = text_of(person.html(r.headers["location"]).text)
    assert "note (notes on meals are not stored by the web app" in page
