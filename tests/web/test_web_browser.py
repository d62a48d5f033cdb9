"""The web app in a real browser: Debian's headless Chromium driven by Playwright against the app
served by uvicorn on 127.0.0.1, with a real background worker (uploads and plan drafts are jobs
whose progress page checks itself every 2 s through static/poll.js, with a "Stop checking" button).

What a person and a dietitian do, as they do it: sign up, log a meal in two key presses and see the
match within a second, log a symptom, a stool type and the PSS-10, upload a stool profile and watch
the job turn into the gut card, then the dietitian's side (two-step login, invitation, caseload,
diary notes, a plan draft edited and signed) and what the person sees of it (the signed plan and
shared notes, never the private ones). Then the same without JavaScript, with the keyboard only,
and axe-core over the main pages and a job's progress pages (no "serious" or "critical" finding;
the progress pages use no <meta http-equiv="refresh">, which axe rates critical under WCAG 2.2.1).

The tests share one server, one browser and the accounts made on the way (module scope); each
also runs alone (what it needs from an earlier one it makes itself).

Every page runs offline: each request to a host other than 127.0.0.1 is aborted and recorded, and
each test ends by checking that none was made. Console errors (a CSP refusal, a missing file) are
recorded the same way.

Without Chromium (or Playwright) the tests skip with a reason; where the environment variable CI
is set they fail.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from conftest import CHEAP_ARGON2, PASSWORD, SHARED

pytestmark = pytest.mark.browser

DATA = SHARED / "data"
METAPHLAN = DATA / "gmwi2_example" / "SRR1761667_metaphlan.txt"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
JOB_TIMEOUT_MS = 90_000  # a background job and the meta refresh that shows its end (2-3 s per refresh)
MATCH_BUDGET_S = 1.0  # Enter -> the matched food visible

# texts of the dietitian's notes: the shared ones must reach the person, the private ones never
SHARED_DAY_NOTE = "Good to see kimchi at lunch: keep one fermented food a day."
PRIVATE_DAY_NOTE = "PRIVATE-zq81: ask about the family history of coeliac disease."
SHARED_PLAN_NOTE = "Start with one change a week; we review it together in a month."
PRIVATE_PLAN_NOTE = "PRIVATE-kx27: consider a referral if the bloating persists."
PRIVATE_TEXTS = (PRIVATE_DAY_NOTE, PRIVATE_PLAN_NOTE, "PRIVATE-zq81", "PRIVATE-kx27")
TARGET_TEXT = "Two portions of pulses on weekdays"

#: what the tests measured, printed at the end of the module (pytest -s, or -rA shows it)
FIGURES: dict[str, object] = {}
#: results of earlier tests that later ones reuse (each test can also make them itself)
STATE: dict[str, object] = {}


def _need(module: str):
    """Import ``module``, or skip (fail under CI) with the reason."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = f"{module} is not installed ({exc}); `pip install -e '.[test]'` provides it"
        if os.environ.get("CI"):
            pytest.fail(reason + " — CI must provide it")
        pytest.skip(reason)


def _expect():
    return _need("playwright.sync_api").expect


# --------------------------------------------------------------------------- the app, served for real
@dataclass
class Live:
    """The running app: its base URL and settings, what the network guard refused, the job gate."""

    base: str
    settings: object
    gate: threading.Event
    parked: threading.Event
    blocked: list = field(default_factory=list)
    console: list = field(default_factory=list)
    kimchi: list = field(default_factory=list)

    @contextmanager
    def jobs_held(self):
        """The worker takes no new job inside the block (so the progress page is seen for sure)."""
        self.gate.clear()
        assert self.parked.wait(10), "the worker did not pause"
        try:
            yield
        finally:
            self.gate.set()

    def check_offline(self) -> None:
        assert not self.blocked, "requests to other hosts: " + ", ".join(self.blocked)
        assert not self.console, "console errors:\n" + "\n".join(self.console)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    if not (DATA / "fndds_portions").is_dir() or not METAPHLAN.is_file():
        pytest.skip("../shared (food tables and the example MetaPhlAn profile) is not present beside this checkout")
    import uvicorn

    from gutaxis.web import food, jobs
    from gutaxis.web.app import create_app
    from gutaxis.web.settings import Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("web-browser") / "app",
        argon2=CHEAP_ARGON2,
        run_jobs_inline=False,
        plan_draws=20,
        fndds=DATA / "fndds_portions",
        sr28=DATA / "usda_sr28_full",
        usda=DATA / "usda_sr28_abbrev" / "ABBREV.txt",
        nova=DATA
        / "nova_fndds_sr_grocerydb"
        / "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv",
    )
    app = create_app(settings)
    # the food tables are loaded once per process, before anything is timed; the match computed here,
    # outside the app, is what the page must show
    food.tables(settings)
    kimchi = food.match_meal(settings, "1 cup kimchi", datetime.now())

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    serving = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    serving.start()

    stop, gate, parked = threading.Event(), threading.Event(), threading.Event()
    gate.set()

    def work():  # the real worker loop; it pauses (between jobs) while the gate is closed
        while not stop.is_set():
            parked.set()
            if not gate.wait(0.1):
                continue
            parked.clear()
            jobs.worker_loop(settings, poll=0.2, stop=lambda: stop.is_set() or not gate.is_set())

    worker = threading.Thread(target=work, name="gutaxis-worker", daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert serving.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Live(base=f"http://127.0.0.1:{port}", settings=settings, gate=gate, parked=parked, kimchi=kimchi)
    finally:
        stop.set()
        gate.set()
        server.should_exit = True
        serving.join(15)
        worker.join(15)
        sock.close()
        app.state.engine.dispose()
        if FIGURES:
            print("\nbrowser figures: " + "; ".join(f"{k} = {v}" for k, v in FIGURES.items()))


@pytest.fixture(scope="module")
def browser(chromium):
    sync_api = _need("playwright.sync_api")
    pw = sync_api.sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
    except Exception:
        pw.stop()
        raise
    sync_api.expect.set_options(timeout=10_000)
    try:
        yield b
    finally:
        b.close()
        pw.stop()


def new_context(browser, live: Live, **kw):
    """A browser context on the app whose requests to any other host are aborted and recorded."""
    ctx = browser.new_context(base_url=live.base, **kw)
    ctx.set_default_timeout(15_000)

    def guard(route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "about", "blob") or parts.hostname == "127.0.0.1":
            route.continue_()
        else:
            live.blocked.append(url)
            route.abort()

    ctx.route("**/*", guard)
    ctx.on(
        "console",
        lambda m: (
            live.console.append(f"{m.type}: {m.text} ({m.location.get('url', '')})") if m.type == "error" else None
        ),
    )
    return ctx


@dataclass
class Actor:
    """One account in its own browser context."""

    ctx: object
    page: object
    email: str
    name: str
    landed: str = ""


def _path(page) -> str:
    parts = urlsplit(page.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _signup(browser, live, name: str, email: str, role: str) -> Actor:
    ctx = new_context(browser, live)
    page = ctx.new_page()
    page.goto("/signup")
    page.get_by_label("Name (optional)").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_label("a dietitian or clinician" if role == "dietitian" else "logging my own food").check()
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    return Actor(ctx, page, email, name, landed=_path(page))


@pytest.fixture(scope="module")
def person(browser, live):
    """A person who signed up through the sign-up form (test 1 checks where it led)."""
    a = _signup(browser, live, "Pat Person", "pat@example.org", "person")
    yield a
    a.ctx.close()


@pytest.fixture(scope="module")
def dietitian(browser, live):
    """A dietitian who signed up and set up the second factor from the key the page shows."""
    import pyotp

    expect = _expect()
    a = _signup(browser, live, "Dee Dietitian", "dee@example.org", "dietitian")
    page = a.page
    assert a.landed == "/totp/setup", a.landed
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    assert page.locator('input[name="secret"]').get_attribute("value") == secret
    code = page.get_by_label("6-digit code")
    code.fill(pyotp.TOTP(secret).now())
    code.press("Enter")
    page.wait_for_url("**/caseload")
    expect(page.get_by_role("heading", level=1)).to_have_text("Caseload")
    yield a
    a.ctx.close()


@pytest.fixture(scope="module")
def client_pid(live, person, dietitian) -> int:
    """The dietitian makes an invitation link; the person opens it and accepts; the client's id."""
    expect = _expect()
    d, p = dietitian.page, person.page
    d.goto("/invitations")
    d.get_by_role("button", name="Make an invitation link").click()
    link = d.locator("code.invite-link").inner_text().strip()
    assert re.fullmatch(re.escape(live.base) + r"/invite/[A-Za-z0-9_-]{20,}", link), link
    p.goto(link)
    expect(p.get_by_role("heading", level=1)).to_have_text(f"Invitation from {dietitian.name}")
    p.get_by_role("button", name="Accept and share").click()
    p.wait_for_url("**/sharing?accepted=1")
    expect(p.locator("main")).to_contain_text(dietitian.name)
    d.goto("/caseload")
    d.get_by_role("link", name=person.name, exact=True).click()
    d.wait_for_url(re.compile(r"/clients/\d+$"))
    expect(d.get_by_role("heading", level=1)).to_have_text(person.name)
    return int(urlsplit(d.url).path.rsplit("/", 1)[1])


def _log_meal_by_form(page, text: str) -> None:
    expect = _expect()
    page.goto("/log")
    page.get_by_role("textbox", name=re.compile("^What did you eat")).fill(text)
    page.get_by_role("button", name="Log it").click()
    expect(page.locator("#new-entry h2")).to_have_text(f"Logged: {text}")


def _match(live, text: str) -> dict:
    """The one food the app's matcher gives for ``text``, computed here, outside the app."""
    from gutaxis.web import food

    items = food.match_meal(live.settings, text, datetime.now())
    assert len(items) == 1 and items[0]["counted"] and items[0]["grams"], items
    return items[0]


def _poll(page) -> str | None:
    """Seconds between the progress page's own checks (static/poll.js), or None when it does not check."""
    assert page.locator('meta[http-equiv="refresh"]').count() == 0  # never a timed refresh the person cannot stop
    m = page.locator("[data-poll]")
    if not m.count():
        return None
    assert page.get_by_role("button", name="Stop checking").is_visible()  # the person controls the timing
    assert page.get_by_role("link", name="Check again").count() == 1  # and without JavaScript: a link
    return m.get_attribute("data-poll")


# --------------------------------------------------------------------------- 0. the guard itself
def test_the_network_guard_aborts_and_records_other_hosts(live, browser):
    ctx = new_context(browser, live)
    try:
        page = ctx.new_page()
        page.set_content('<img src="http://example.org/pixel.png" alt="">')
        deadline = time.monotonic() + 10
        while not live.blocked and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert live.blocked == ["http://example.org/pixel.png"]
        assert page.evaluate("document.images[0].naturalWidth") == 0  # aborted: nothing loaded
    finally:
        ctx.close()
        live.blocked.clear()
        live.console.clear()  # (the aborted image is a console error too)


# --------------------------------------------------------------------------- 1. sign up, log a meal fast
def test_signup_then_a_meal_in_two_keys_matched_within_a_second(live, person):
    expect = _expect()
    page = person.page
    assert person.landed == "/log"  # the sign-up form leads straight to the Log page
    expect(page.get_by_role("heading", level=1)).to_have_text("Log")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()  # logged in (the __Host- cookie held)
    want = live.kimchi
    assert len(want) == 1 and want[0]["fermented"] and want[0]["grams"], want

    box = page.get_by_role("textbox", name=re.compile("^What did you eat"))
    expect(box).to_be_focused()  # autofocus: no click needed
    entry = page.locator("#new-entry")
    expect(entry).to_have_count(0)
    interactions = 0
    page.keyboard.type("1 cup kimchi")
    interactions += 1
    expect(box).to_have_value("1 cup kimchi")
    badge = entry.locator(".badge.fermented")
    t0 = time.perf_counter()
    page.keyboard.press("Enter")
    interactions += 1
    food, grams = entry.locator(".food"), entry.locator(".grams")
    expect(badge).to_be_visible(timeout=10_000)
    expect(food).to_be_visible()
    expect(grams).to_be_visible()
    elapsed = time.perf_counter() - t0
    FIGURES["Enter -> kimchi match visible"] = f"{elapsed:.3f} s"
    STATE["meal_logged"] = True
    assert interactions <= 3
    assert elapsed < MATCH_BUDGET_S, f"the match took {elapsed:.2f} s to show"
    assert re.search(r"/log\?entry=\d+", page.url), page.url
    expect(entry.locator("h2")).to_have_text("Logged: 1 cup kimchi")
    expect(food).to_have_text(want[0]["description"])
    assert "kimchi" in want[0]["description"].lower()
    expect(grams).to_have_text(f"{want[0]['grams']:.0f} g")
    expect(badge).to_have_text(
        "fermented, live cultures" if want[0]["live_cultures"] == "yes" else re.compile("^fermented")
    )
    # and it is in today's list
    expect(
        page.locator("section[aria-labelledby=today-h] .entries > li").filter(has_text="1 cup kimchi")
    ).to_have_count(1)
    live.check_offline()


# --------------------------------------------------------------------------- 2. symptom, stool type, PSS-10
def test_symptom_with_onset_bristol_type_and_pss10(live, person):
    from gutaxis.lifestyle.stress import PSS10_ANSWERS, pss10_band

    expect = _expect()
    page = person.page
    page.goto("/log")
    onset = (datetime.now() - timedelta(hours=2)).replace(second=0, microsecond=0)
    page.get_by_label("Symptom", exact=True).select_option("bloating")
    page.get_by_label(re.compile(r"^How bad")).fill("6")
    page.get_by_label(re.compile(r"^Started")).fill(onset.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label(re.compile(r"^Note")).fill("after lunch")
    page.get_by_role("button", name="Save symptom").click()
    expect(page.get_by_role("status").filter(has_text="Symptom saved.")).to_be_visible()
    today = page.locator("section[aria-labelledby=today-h]")
    sym = today.locator("li").filter(has_text="bloating 6/10")
    expect(sym).to_have_count(1)
    expect(sym).to_contain_text(f"(started {onset.strftime('%a %H:%M')})")
    expect(sym).to_contain_text("after lunch")

    page.get_by_label(re.compile(r"^Type 4:")).check()
    page.get_by_role("button", name="Save stool type").click()
    expect(page.get_by_role("status").filter(has_text="Stool type saved.")).to_be_visible()
    expect(page.locator("section[aria-labelledby=today-h] li").filter(has_text="stool type 4")).to_have_count(1)

    # the PSS-10: ten radio groups; items 4, 5, 7 and 8 are scored in reverse (by hand here)
    answers = [2, 1, 3, 1, 2, 0, 1, 3, 4, 2]
    total = sum(4 - a if i in (4, 5, 7, 8) else a for i, a in enumerate(answers, start=1))
    band = "low" if total <= 13 else "moderate" if total <= 26 else "high"
    assert (total, band) == (21, "moderate") and pss10_band(total) == band
    page.goto("/pss")
    groups = page.get_by_role("group", name=re.compile(r"^\d+\. In the last month"))
    expect(groups).to_have_count(10)
    for i, a in enumerate(answers):
        g = groups.nth(i)
        expect(g.get_by_role("radio")).to_have_count(5)
        g.get_by_label(PSS10_ANSWERS[a], exact=True).check()
    page.get_by_role("button", name="See my score").click()
    page.wait_for_url(re.compile(r"/pss\?entry=\d+"))
    expect(page.locator("#result-h")).to_have_text(f"Your score: {total} of 40")
    expect(page.locator("#result [role=status] strong")).to_have_text(band)
    FIGURES["PSS-10 shown"] = f"{total} ({band})"
    live.check_offline()


# --------------------------------------------------------------------------- 3. upload -> job -> gut card
def _upload_profile(live, person) -> str:
    """Upload the MetaPhlAn example: the progress page, then (refreshing itself) the gut card."""
    expect = _expect()
    page = person.page
    page.goto("/uploads")
    page.get_by_label(re.compile("^Profile file")).set_input_files(METAPHLAN)
    with live.jobs_held():
        page.get_by_role("button", name="Upload").click()
        page.wait_for_url(re.compile(r"/uploads/\d+$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Reading the profile")
        expect(page.get_by_role("status")).to_contain_text("Waiting to start")
        assert _poll(page) == "2"
    t0 = time.perf_counter()
    # no reload here: the page's own check brings the card once the worker is done
    expect(page.get_by_role("heading", level=1)).to_have_text("Gut health card", timeout=JOB_TIMEOUT_MS)
    FIGURES["upload job -> gut card shown"] = f"{time.perf_counter() - t0:.1f} s"
    assert _poll(page) is None  # done: it stops checking
    return urlsplit(page.url).path


def test_upload_shows_progress_then_the_gut_card(live, person):
    import gutaxis

    expect = _expect()
    url = _upload_profile(live, person)
    STATE["card_url"] = url
    page = person.page
    # the figures the card must show, computed here from the file without the app
    line = next(ln for ln in METAPHLAN.read_text().splitlines() if ln.split("\t")[0] in ("UNKNOWN", "UNCLASSIFIED"))
    share = float(line.split("\t")[2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = gutaxis.health_indices(gutaxis.read_profile(METAPHLAN)).iloc[0]
    warn = page.locator("section.unclassified")
    expect(warn.get_by_role("heading")).to_have_text("Most of the sample could not be named")
    expect(warn).to_contain_text(f"{share:.0f}% of reads were not classified")
    gmhi = page.get_by_role("row", name=re.compile(r"^Gut Microbiome Health Index \(GMHI\)"))
    expect(gmhi).to_have_count(1)
    expect(gmhi.get_by_role("cell").first).to_have_text(f"{want['GMHI']:.2f}")
    expect(
        page.get_by_role("row", name=re.compile(r"^Diversity \(Shannon index\)")).get_by_role("cell").first
    ).to_have_text(f"{want['shannon']:.2f}")
    # the warning is read before the numbers it qualifies
    assert warn.bounding_box()["y"] < gmhi.bounding_box()["y"]
    expect(page.locator("main")).to_contain_text(METAPHLAN.name)
    FIGURES["card: unclassified, GMHI"] = f"{share:.0f}%, {want['GMHI']:.2f}"
    live.check_offline()


def _card_url(live, person) -> str:
    return STATE.get("card_url") or STATE.setdefault("card_url", _upload_profile(live, person))


# --------------------------------------------------------------------------- 4. the dietitian, the signed plan
def _build_draft(live, dietitian, pid: int) -> str:
    """The dietitian starts a draft with the page's button and waits (the page refreshes itself)."""
    expect = _expect()
    d = dietitian.page
    d.goto(f"/clients/{pid}/plan")
    with live.jobs_held():
        d.get_by_role("button", name="Build a new draft").click()
        d.wait_for_url(re.compile(rf"/clients/{pid}/plan\?job=\d+$"))
        expect(d.get_by_role("status")).to_contain_text("Draft requested")
        assert _poll(d) == "2"
    t0 = time.perf_counter()
    link = d.get_by_role("link", name=re.compile(r"^open draft v\d+$"))
    expect(link).to_be_visible(timeout=JOB_TIMEOUT_MS)
    FIGURES["plan job -> draft link shown"] = f"{time.perf_counter() - t0:.1f} s"
    link.click()
    d.wait_for_url(re.compile(rf"/clients/{pid}/plan/\d+$"))
    expect(d.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Plan v\d+ of "))
    return urlsplit(d.url).path


def _add_note(scope, text: str, *, shared: bool) -> None:
    scope.get_by_label(re.compile(r"^Note")).fill(text)
    box = scope.get_by_label(re.compile(r"^Share with the client"))
    box.check() if shared else box.uncheck()
    scope.get_by_role("button", name="Add note").click()


def test_dietitian_annotates_edits_and_signs_the_person_sees_only_what_is_shared(live, person, dietitian, client_pid):
    expect = _expect()
    pid = client_pid
    d, p = dietitian.page, person.page
    if not STATE.get("meal_logged"):
        _log_meal_by_form(p, "1 cup kimchi")  # (when this test runs alone)

    # the caseload lists the client with today's meal
    d.goto("/caseload")
    row = d.get_by_role("row").filter(has=d.get_by_role("link", name=person.name, exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(datetime.now().strftime("%Y-%m-%d"))

    # the client's diary: the meal with its matched food; a shared and a private note on the day
    d.get_by_role("link", name=person.name, exact=True).click()
    d.get_by_role("navigation", name="Client").get_by_role("link", name="Diary").click()
    d.wait_for_url(re.compile(rf"/clients/{pid}/diary$"))
    day = d.locator("section.day").first
    meal = day.locator(".entries > li").filter(has_text="1 cup kimchi").first
    expect(meal).to_contain_text(f"{live.kimchi[0]['description']} · {live.kimchi[0]['grams']:.0f} g")
    for text, shared in ((SHARED_DAY_NOTE, True), (PRIVATE_DAY_NOTE, False)):
        day = d.locator("section.day").first
        day.locator("summary").filter(has_text="Add a note on this day").click()
        _add_note(day, text, shared=shared)
        d.wait_for_url(re.compile(rf"/clients/{pid}/diary\?end="))
        expect(
            d.locator("section.day")
            .first.locator("p.note." + ("shared" if shared else "private"))
            .filter(has_text=text)
        ).to_have_count(1)

    # a plan draft: remove one suggestion, set a target on another, a note on the plan, sign
    url = _build_draft(live, dietitian, pid)
    STATE["plan_url"] = url
    items = d.locator("li.plan-item")
    titles = items.locator("h3").all_inner_texts()
    assert len(titles) >= 2, titles
    # (the button's name carries the item's title in a visually hidden span: "Remove: <title>")
    d.get_by_role("button", name=re.compile(rf"^Remove\s*:\s*{re.escape(titles[0])}$")).click()
    d.wait_for_url("**" + url)
    expect(d.locator("li.plan-item h3")).to_have_text(titles[1:])
    item = d.locator("li.plan-item").filter(has=d.get_by_role("heading", name=titles[1], exact=True))
    item.locator("summary").click()
    item.get_by_label("Individual target (empty: none)").fill(TARGET_TEXT)
    item.get_by_role("button", name="Save the target").click()
    d.wait_for_url("**" + url)
    item = d.locator("li.plan-item").filter(has=d.get_by_role("heading", name=titles[1], exact=True))
    expect(item.locator("p.target")).to_have_text(f"Your target: {TARGET_TEXT}")
    expect(d.locator("li.plan-item h3")).to_have_text(titles[1:])
    for text, shared in ((SHARED_PLAN_NOTE, True), (PRIVATE_PLAN_NOTE, False)):
        _add_note(d.locator("form.note-form"), text, shared=shared)
        d.wait_for_url("**" + url)
    sign = d.get_by_role("button", name=re.compile(r"^Sign v\d+$"))
    number = sign.inner_text().split("v")[-1]
    sign.click()
    d.wait_for_url("**" + url + "?signed=1")
    expect(d.get_by_role("status").filter(has_text="Signed. The client now sees this version.")).to_be_visible()
    expect(d.locator("p.signature")).to_contain_text(f"Signed by {dietitian.name}")
    expect(d.locator("p.signature")).to_contain_text("Unchanged since signing")

    # the person: the signed plan as edited, with the shared note
    p.goto("/plan")
    expect(p.get_by_role("heading", level=1)).to_have_text("Your plan")
    main = p.locator("main")
    expect(main).to_contain_text(f"Version {number}")
    expect(p.locator("p.signature")).to_contain_text(f"Signed by {dietitian.name}")
    expect(p.locator("p.signature")).to_contain_text("Unchanged since signing")
    expect(p.locator("li.plan-item h3")).to_have_text(titles[1:])
    expect(p.locator("li.plan-item").first.locator("p.target")).to_have_text(f"Your target: {TARGET_TEXT}")
    notes = p.get_by_role("region", name="Notes from your dietitian")
    expect(notes).to_contain_text(SHARED_PLAN_NOTE)
    expect(notes).to_contain_text(dietitian.name)
    p.goto("/notes")
    expect(p.locator("li.note").filter(has_text=SHARED_DAY_NOTE)).to_contain_text(
        "about " + datetime.now().strftime("%Y-%m-%d")
    )
    expect(p.locator("li.note").filter(has_text=SHARED_PLAN_NOTE)).to_contain_text("about your plan")

    # the private notes appear on none of the person's pages
    vid = url.rsplit("/", 1)[1]
    pages = [
        "/plan",
        f"/plan/{vid}",
        "/notes",
        "/messages",
        "/log",
        "/diary",
        "/sharing",
        "/audit",
        "/uploads",
        "/account",
        "/pss",
    ]
    for path in pages:
        resp = p.goto(path)
        assert resp is not None and resp.status == 200, (path, resp and resp.status)
        html = p.content()
        leaked = [t for t in PRIVATE_TEXTS if t in html]
        assert not leaked, f"{path} shows the private note: {leaked}"
    # while the dietitian still sees them on the client's record
    d.goto(f"/clients/{pid}")
    expect(d.locator("li.note.private").filter(has_text=PRIVATE_PLAN_NOTE)).to_have_count(1)
    d.goto(f"/clients/{pid}/diary")
    expect(d.locator("p.note.private").filter(has_text=PRIVATE_DAY_NOTE)).to_have_count(1)
    live.check_offline()


def _plan_url(live, person, dietitian, client_pid) -> str:
    if not STATE.get("plan_url"):
        _log_meal_by_form(person.page, "1 cup kimchi")
        STATE["plan_url"] = _build_draft(live, dietitian, client_pid)
    return STATE["plan_url"]


# --------------------------------------------------------------------------- 5. without JavaScript
def test_a_meal_is_logged_without_javascript(live, browser, person):
    expect = _expect()
    ctx = new_context(browser, live, java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(person.email)
        pw = page.get_by_label("Password")
        pw.fill(PASSWORD)
        pw.press("Enter")
        page.wait_for_url("**/log")
        # scripts really are off in this context: an inline handler does not run
        probe = ctx.new_page()
        probe.set_content(
            '<p id="x">off</p><img src="data:," alt="" onerror="document.getElementById(\'x\').textContent=\'on\'">'
        )
        probe.wait_for_timeout(200)
        assert probe.locator("#x").inner_text() == "off"
        probe.close()
        page.goto("/log")
        box = page.get_by_role("textbox", name=re.compile("^What did you eat"))
        box.fill("1 cup plain yogurt")
        box.press("Enter")
        page.wait_for_url(re.compile(r"/log\?entry=\d+"))
        entry = page.locator("#new-entry")
        expect(entry.locator("h2")).to_have_text("Logged: 1 cup plain yogurt")
        want = _match(live, "1 cup plain yogurt")
        expect(entry.locator(".food")).to_have_text(want["description"])
        expect(entry.locator(".grams")).to_have_text(f"{want['grams']:.0f} g")
        assert want["fermented"]
        expect(entry.locator(".badge.fermented")).to_be_visible()
        expect(
            page.locator("section[aria-labelledby=today-h] .entries > li").filter(has_text="1 cup plain yogurt")
        ).to_have_count(1)
    finally:
        ctx.close()
    live.check_offline()


# --------------------------------------------------------------------------- 6. keyboard only
def test_a_meal_is_logged_with_the_keyboard_only(live, person):
    expect = _expect()
    page = person.ctx.new_page()
    try:
        page.goto("/log")
        kb = page.keyboard
        box = page.get_by_role("textbox", name=re.compile("^What did you eat"))
        expect(box).to_be_focused()
        kb.type("1 medium banana")
        kb.press("Tab")
        summary = page.locator("summary").filter(has_text="Meal and time (optional)")
        expect(summary).to_be_focused()
        kb.press("Enter")  # opens the details
        expect(page.get_by_label("Meal", exact=True)).to_be_visible()
        kb.press("Tab")
        slot = page.get_by_label("Meal", exact=True)
        expect(slot).to_be_focused()
        kb.type("lunch")  # type-ahead in the select
        expect(slot).to_have_value("lunch")
        button = page.get_by_role("button", name="Log it")
        for _ in range(12):  # past the date-time fields (left empty: now) to the button
            kb.press("Tab")
            if page.evaluate("document.activeElement.textContent.trim()") == "Log it":
                break
        expect(button).to_be_focused()
        kb.press("Enter")
        page.wait_for_url(re.compile(r"/log\?entry=\d+"))
        entry = page.locator("#new-entry")
        expect(entry.locator("h2")).to_have_text("Logged: 1 medium banana")
        expect(entry.locator(".hint").first).to_contain_text("lunch")
        want = _match(live, "1 medium banana")
        expect(entry.locator(".food")).to_have_text(want["description"])
        expect(entry.locator(".grams")).to_have_text(f"{want['grams']:.0f} g")
        assert "banana" in want["description"].lower()
    finally:
        page.close()
    live.check_offline()


# --------------------------------------------------------------------------- 7. axe-core
def _axe_lines(path: str, violations: list) -> list[tuple[str, str]]:
    """(impact, one line naming the rule and its target nodes) per violation."""
    out = []
    for v in violations:
        nodes = v["nodes"]
        where = "; ".join(" ".join(map(str, n["target"])) for n in nodes[:6]) + (
            f" (+{len(nodes) - 6} more)" if len(nodes) > 6 else ""
        )
        out.append((v["impact"], f"{path}: {v['id']} ({v['impact']}): {v['help']} — {where}"))
    return out


def test_axe_finds_nothing_serious(live, browser, person, dietitian, client_pid):
    from axe_playwright_python.sync_playwright import Axe

    expect = _expect()
    card = _card_url(live, person)
    plan = _plan_url(live, person, dietitian, client_pid)
    anon = new_context(browser, live)
    axe = Axe()
    # the pages named by the acceptance criteria, then a few more of each side
    pages = [
        (anon, "/login"),
        (person.ctx, "/log"),
        (person.ctx, "/diary"),
        (dietitian.ctx, "/caseload"),
        (dietitian.ctx, plan),
        (person.ctx, card),
        (anon, "/signup"),
        (person.ctx, "/pss"),
        (person.ctx, "/uploads"),
        (person.ctx, "/plan"),
        (person.ctx, "/sharing"),
        (dietitian.ctx, "/invitations"),
        (dietitian.ctx, f"/clients/{client_pid}"),
        (dietitian.ctx, f"/clients/{client_pid}/diary"),
        (dietitian.ctx, f"/clients/{client_pid}/plan"),
    ]
    found, bad = [], []
    try:
        # the check can fail: a field without a label is a critical finding
        control = anon.new_page()
        control.set_content(
            '<!doctype html><html lang="en"><title>t</title><main><h1>t</h1><input type="text"></main></html>'
        )
        ids = {v["id"]: v["impact"] for v in axe.run(control).response["violations"]}
        control.close()
        assert ids.get("label") == "critical", ids
        for ctx, path in pages:
            page = ctx.new_page()
            try:
                resp = page.goto(path)
                assert resp is not None and resp.status == 200, (path, resp and resp.status)
                expect(page.locator("main h1")).to_be_visible()
                for det in page.locator("details").all():  # what is folded away is checked too
                    det.evaluate("d => { d.open = true; }")
                r = axe.run(page).response
                ran = {x["id"] for x in r["passes"]} | {x["id"] for x in r["violations"]}
                assert "color-contrast" in ran and "label" in ran | {x["id"] for x in r["inapplicable"]}, path
                for impact, line in _axe_lines(path, r["violations"]):
                    found.append(line)
                    if impact in ("serious", "critical"):
                        bad.append(line)
            finally:
                page.close()
        # a job's progress pages, seen while the job waits: the same checks (they check themselves with
        # poll.js and a "Stop checking" button, not a timed <meta refresh> that axe rates critical)
        page = person.ctx.new_page()
        try:
            page.goto("/uploads")
            page.get_by_label(re.compile("^Profile file")).set_input_files(METAPHLAN)
            with live.jobs_held():
                page.get_by_role("button", name="Upload").click()
                page.wait_for_url(re.compile(r"/uploads/\d+$"))
                progress = [urlsplit(page.url).path]
                refresh_ids = []
                for i, path in enumerate(progress):
                    if i:
                        page.goto(path)
                    expect(page.get_by_role("button", name="Stop checking")).to_be_visible()
                    if not i:
                        progress.append(page.get_by_role("link", name="Job details").get_attribute("href"))
                    for impact, line in _axe_lines(path + " (running)", axe.run(page).response["violations"]):
                        found.append(line)
                        if line.split(": ", 2)[1].startswith("meta-refresh "):
                            refresh_ids.append(line)
                        if impact in ("serious", "critical"):
                            bad.append(line)
                # "Stop checking" stops the reloads: a marker set in the page survives past the interval
                page.evaluate("window.__still_here = 1")
                page.get_by_role("button", name="Stop checking").click()
                page.wait_for_timeout(3000)
                assert page.evaluate("window.__still_here") == 1
                expect(page.locator("#poll-note")).to_contain_text("Stopped checking")
            page.goto(progress[0])
            expect(page.get_by_role("heading", level=1)).to_have_text("Gut health card", timeout=JOB_TIMEOUT_MS)
        finally:
            page.close()
        assert len(progress) == 2 and progress[1].startswith("/jobs/"), progress
        FIGURES["axe meta-refresh (progress pages)"] = len(refresh_ids)
    finally:
        anon.close()
    FIGURES["axe pages"] = len(pages) + 2
    FIGURES["axe violations (any impact)"] = len(found)
    if found:
        print("\naxe findings:\n" + "\n".join(found))
    assert not bad, "axe found serious or critical problems:\n" + "\n".join(bad)
    live.check_offline()
