"""Free-text food matching and portions; acceptance: >= 90 of 100 common foods match the intended item."""

from __future__ import annotations

from pathlib import Path

import pytest

from gutaxis.errors import InputError
from gutaxis.lifestyle import FoodMatcher, parse_portion, read_aliases, read_usda_abbrev

PHRASES = Path(__file__).parent / "data" / "food_phrases.tsv"


@pytest.fixture(scope="module")
def matcher(shared):
    return FoodMatcher(read_usda_abbrev(shared("data", "usda_sr28_abbrev", "ABBREV.txt")))


@pytest.mark.parametrize(
    "text, qty, unit, food",
    [
        ("greek yogurt", 1.0, None, "greek yogurt"),
        ("1 cup kimchi", 1.0, "cup", "kimchi"),
        ("slice of sourdough", 1.0, "slice", "sourdough"),
        ("2 eggs", 2.0, None, "eggs"),
        ("150 g brown rice", 150.0, "g", "brown rice"),
        ("150g brown rice", 150.0, "g", "brown rice"),
        ("brown rice 150 g", 150.0, "g", "brown rice"),
        ("a banana", 1.0, None, "banana"),
        ("half an avocado", 0.5, None, "avocado"),
        ("1/2 cup chickpeas", 0.5, "cup", "chickpeas"),
        ("1 1/2 cups oats", 1.5, "cup", "oats"),
        ("½ cup rice", 0.5, "cup", "rice"),
        ("2 slices whole wheat bread", 2.0, "slice", "whole wheat bread"),
        ("handful of almonds", 1.0, "handful", "almonds"),
        ("8 fl oz orange juice", 8.0, "fl oz", "orange juice"),
        ("two tbsp peanut butter", 2.0, "tbsp", "peanut butter"),
        ("pot roast", 1.0, None, "pot roast"),
        ("a large banana", 1.0, None, "banana"),
    ],
)
def test_parse_portion(text, qty, unit, food):
    p = parse_portion(text)
    assert (p.quantity, p.unit, p.food) == (pytest.approx(qty), unit, food)
    if text == "a large banana":
        assert p.size == "large"


def test_portion_grams_from_household_measures(matcher):
    # SR28: kimchi 1 cup = 150 g; egg 1 large = 50 g; sauerkraut 1 cup = 142 g -> 1 tbsp = 142/16 g
    m = matcher.match("1 cup kimchi")
    assert (m.ndb_no, m.grams) == ("11118", 150.0)
    m = matcher.match("2 eggs")
    assert m.ndb_no == "01123" and m.grams == 100.0 and "1 large" in m.portion_basis
    m = matcher.match("2 tbsp sauerkraut")
    assert m.grams == pytest.approx(2 * 142 / 16)
    m = matcher.match("150 g brown rice")
    assert m.grams == 150.0
    m = matcher.match("3 oz shrimp")
    assert m.grams == pytest.approx(3 * 28.349523125)
    m = matcher.match("can of coke")  # SR28 cola: 1 can or bottle (12 fl oz) = 370 g
    assert (m.ndb_no, m.grams) == ("14148", 370.0)
    m = matcher.match("glass of red wine")  # a glass -> the SR28 serving (5 fl oz) = 147 g, said so
    assert m.grams == 147.0 and "serving" in m.portion_basis


def test_unconvertible_portion_is_said_not_guessed(matcher):
    m = matcher.match("a banana")  # SR28 ABBREV has only cup measures for bananas
    assert m.ndb_no == "09040" and m.grams is None
    assert "portion not converted" in m.note and "give grams" in m.note
    m = matcher.match("strawberries")
    assert m.grams is None and "no amount given" in m.note


def test_acceptance_100_common_foods(matcher):
    rows = [ln.rstrip("\n").split("\t") for ln in PHRASES.read_text().splitlines() if not ln.startswith("#")][1:]
    assert len(rows) == 100
    correct, wrong = 0, []
    for phrase, intended, _note in rows:
        m = matcher.match(phrase)
        ok = m.status != "unmatched" and m.ndb_no in intended.split("|")
        correct += ok
        if not ok:
            wrong.append((phrase, m.ndb_no, m.description, m.status))
        if m.status == "low_confidence":
            assert m.note, "a low-confidence match must say why"
    assert correct >= 90, f"{correct}/100 matched the intended item; misses: {wrong}"


@pytest.mark.parametrize("phrase", ["kombucha", "oat milk", "dragon fruit smoothie bowl", "xyzzy"])
def test_foods_absent_from_sr28_are_not_guessed_silently(matcher, phrase):
    m = matcher.match(phrase)
    assert m.status in ("unmatched", "low_confidence")
    if m.status == "unmatched":
        assert m.ndb_no is None and m.grams is None
        assert "candidates" in m.note or not m.candidates
    else:
        assert m.note and m.confidence < 1.0


def test_low_confidence_says_which_words_are_missing(matcher):
    m = matcher.match("1 tbsp ground flaxseed")
    assert m.ndb_no == "12220"
    assert m.status == "low_confidence" and "ground" in m.note


def test_favourites(matcher, tmp_path):
    matcher.remember("my usual porridge", "08121", 300)
    m = matcher.match("my usual porridge")
    assert (m.status, m.source, m.ndb_no, m.grams) == ("matched", "alias", "08121", 300.0)
    m = matcher.match("2 my usual porridge")
    assert m.grams == 600.0
    with pytest.raises(InputError, match="99999 is not in the food table"):
        matcher.remember("nothing", "99999")
    p = tmp_path / "aliases.csv"
    p.write_text("phrase,ndb_no,grams\nmorning yogurt,1116,150\nbad,12ab,\n")
    with pytest.raises(InputError, match=r"aliases.csv: row 3, column 'ndb_no': '12ab'"):
        read_aliases(p)
    p.write_text("phrase,ndb_no,grams\nmorning yogurt,1116,-3\n")
    with pytest.raises(InputError, match=r"row 2, column 'grams'"):
        read_aliases(p)
    p.write_text("phrase,ndb_no,grams\nmorning yogurt,1116,150\n")
    al = read_aliases(p)
    assert al.iloc[0]["ndb_no"] == "01116"
    m2 = FoodMatcher(matcher.foods, aliases=al).match("morning yogurt")
    assert (m2.ndb_no, m2.grams) == ("01116", 150.0)


def test_match_many(matcher):
    df = matcher.match_many(["1 cup kimchi", "kombucha"])
    assert next(iter(df["status"])) == "matched" and df.loc[0, "ndb_no"] == "11118"
    assert {"query", "status", "ndb_no", "description", "grams", "candidates"} <= set(df.columns)
