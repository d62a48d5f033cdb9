"""Food tables: USDA SR28 ABBREV reader, NOVA reader and join, fermented-food list."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.lifestyle import (
    classify_fermented,
    fermented_flags,
    fermented_foods,
    load_food_table,
    nova_for_sr,
    read_nova,
    read_usda_abbrev,
)

NOVA_FILE = "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv"


@pytest.fixture(scope="module")
def usda(shared):
    return read_usda_abbrev(shared("data", "usda_sr28_abbrev", "ABBREV.txt"))


@pytest.fixture(scope="module")
def nova(shared):
    return read_nova(shared("data", "nova_fndds_sr_grocerydb", NOVA_FILE))


def test_usda_reader_counts_and_spot_checks(usda):
    # figures from ../shared/data/usda_sr28_abbrev/PROVENANCE.md
    assert len(usda) == 8790
    assert usda["fiber_g"].notna().sum() == 8196
    assert usda["sugars_g"].notna().sum() == 6958
    assert usda["sat_fat_g"].notna().sum() == 8441
    b = usda.loc["09040"]
    assert b["description"] == "BANANAS,RAW"
    assert (b["fiber_g"], b["sugars_g"], b["sat_fat_g"]) == (2.6, 12.23, 0.112)
    s = usda.loc["11439"]
    assert (s["fiber_g"], s["sugars_g"], s["sat_fat_g"]) == (2.9, 1.78, 0.034)
    y = usda.loc["01116"]
    assert (y["fiber_g"], y["sugars_g"], y["sat_fat_g"]) == (0.0, 4.66, 2.096)
    # household measures: butter, 1 pat = 5 g, 1 tbsp = 14.2 g
    assert usda.loc["01001", "gmwt_1"] == 5.0 and usda.loc["01001", "gmwt_desc2"] == "1 tbsp"
    assert usda.attrs["provenance"]["sha256"] == "5d8e273641e1a7701de2e5e058c59464922e5df41c3ed02b567ca76278d7d19c"
    assert usda.loc["09040", "food_group"] == "09"


def _abbrev_line(ndb="99001", desc="TEST FOOD", n_fields=53, bad_number=None):
    fields = [f"~{ndb}~", f"~{desc}~"] + ["1.0"] * 51
    fields[49] = "~1 cup~"
    fields[51] = "~1 tbsp~"
    if bad_number:
        fields[8] = bad_number
    return "^".join(fields[:n_fields])


def test_usda_reader_errors_name_file_and_line(tmp_path):
    p = tmp_path / "ABBREV.txt"
    p.write_text(_abbrev_line() + "\r\n\r\n" + _abbrev_line("99002", n_fields=50) + "\r\n", encoding="latin-1")
    with pytest.raises(InputError, match=r"ABBREV.txt: line 3: 50 '\^'-separated fields, expected 53"):
        read_usda_abbrev(p)
    p.write_text(_abbrev_line() + "\n" + _abbrev_line("99002", bad_number="2,6") + "\n", encoding="latin-1")
    with pytest.raises(InputError, match=r"line 2, field Fiber_TD_\(g\): '2,6' is not a number"):
        read_usda_abbrev(p)
    p.write_text(_abbrev_line() + "\n" + _abbrev_line() + "\n", encoding="latin-1")
    with pytest.raises(InputError, match="line 2: NDB_No 99001 appears twice"):
        read_usda_abbrev(p)
    p.write_text(_abbrev_line() + "\n", encoding="latin-1")
    one = read_usda_abbrev(p)
    assert one.loc["99001", "gmwt_desc1"] == "1 cup" and one.loc["99001", "fiber_g"] == 1.0


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(InputError, match=r"gutaxis datasets fetch usda_sr28_abbrev"):
        read_usda_abbrev(tmp_path / "nope" / "ABBREV.txt")
    with pytest.raises(InputError, match=r"gutaxis datasets fetch nova_fndds_sr_grocerydb"):
        read_nova(tmp_path / "nope.csv")


def test_default_path_is_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_DATA_DIR", str(tmp_path))
    with pytest.raises(InputError) as err:
        read_usda_abbrev()
    assert str(tmp_path / "usda_sr28_abbrev" / "ABBREV.txt") in str(err.value)


def test_nova_reader(nova):
    # figures from ../shared/data/nova_fndds_sr_grocerydb/PROVENANCE.md
    assert len(nova) == 10499
    assert nova["food_code"].nunique() == 8238
    assert nova["nova"].value_counts().sort_index().tolist() == [3389, 275, 1863, 4972]
    assert set(nova["source"]) == {"SR", "FNDDS"}


def test_nova_reader_nutrients_back_from_logs(shared):
    t = read_nova(shared("data", "nova_fndds_sr_grocerydb", NOVA_FILE), nutrients=True)
    # PROVENANCE: American cheese protein ln 2.8976 -> 18.13 g/100 g; -20 means zero
    cheese = t[t["food_code"] == 1042].iloc[0]
    assert cheese["protein_g"] == pytest.approx(np.exp(2.897568025), rel=1e-9)
    assert cheese["protein_g"] == pytest.approx(18.13, abs=0.01)
    assert cheese["fiber_g"] == 0.0


def test_nova_reader_errors(tmp_path):
    p = tmp_path / "nova.csv"
    p.write_text(
        ",Food code,Main food description,version SR,year FNDDS,novaclass\n0,9040,Bananas,28,,1\n"
        "1,9041,Banana powder,28,,5\n"
    )
    with pytest.raises(InputError, match=r"nova.csv: line 3, column 'novaclass': '5'"):
        read_nova(p)
    p.write_text(",Food code,Main food description,version SR,year FNDDS,novaclass\n0,x9040,Bananas,28,,1\n")
    with pytest.raises(InputError, match=r"line 2, column 'Food code'"):
        read_nova(p)
    p.write_text(",Food code,Main food description,version SR,novaclass\n0,9040,Bananas,28,1\n")
    with pytest.raises(InputError, match=r"missing column\(s\) \['year FNDDS'\]"):
        read_nova(p)
    p.write_text(",Food code,Main food description,version SR,year FNDDS,novaclass\n0,9040,Bananas,28,2015,1\n")
    with pytest.raises(InputError, match="exactly one of"):
        read_nova(p)


def test_nova_join_by_ndb(usda, nova):
    lab = nova_for_sr(usda, nova)
    assert lab.loc["09040", "nova"] == 1 and lab.loc["09040", "nova_source"] == "SR28"  # bananas, raw
    assert lab.loc["11118", "nova"] == 1  # kimchi
    assert lab.loc["11439", "nova"] == 3  # sauerkraut, canned
    assert lab.loc["19411", "nova"] == 4  # potato chips (label from SR23)
    assert lab.loc["19411", "nova_source"] == "SR23"
    # 3,673 SR28 labels all join; older releases add those whose description still agrees
    assert (lab["nova_source"] == "SR28").sum() == 3673
    assert 3673 < lab["nova"].notna().sum() <= 3673 + 474
    rejected = lab.attrs["filtered"][0]
    assert rejected["n"] == len(rejected["ids"]) > 0 and "reused" in rejected["reason"]


def test_nova_join_rejects_a_reused_number():
    usda = pd.DataFrame({"description": ["BANANAS,RAW"]}, index=pd.Index(["09040"], name="ndb_no"))
    nova = pd.DataFrame(
        {
            "food_code": [9040],
            "description": ["Pork sausage, fresh, cooked"],
            "sr_version": [22.0],
            "fndds_year": [np.nan],
            "source": ["SR"],
            "nova": [3],
        }
    )
    lab = nova_for_sr(usda, nova)
    assert pd.isna(lab.loc["09040", "nova"])
    assert lab.attrs["filtered"][0]["ids"] == ["09040"]


def test_fermented_table_is_complete():
    t = fermented_foods()
    assert t["id"].is_unique
    assert set(t["live_cultures"]) == {"yes", "varies", "no"}
    assert (t["reason"].str.len() > 20).all()
    assert t["citation"].str.match(r"doi:10\.\d{4,}/\S+").all()
    # the ones the issue names
    for fid in (
        "yogurt",
        "kefir",
        "sauerkraut_raw",
        "kimchi",
        "miso",
        "tempeh",
        "natto",
        "kombucha",
        "buttermilk_cultured",
        "aged_cheese",
        "pickles_vinegar",
        "sauerkraut_canned",
        "sourdough_bread",
    ):
        assert fid in set(t["id"]), fid
    live = dict(zip(t["id"], t["live_cultures"], strict=True))
    assert live["pickles_vinegar"] == live["sauerkraut_canned"] == live["sourdough_bread"] == "no"
    assert live["yogurt"] == live["kefir"] == live["kimchi"] == live["sauerkraut_raw"] == "yes"
    counted = t[t["live_cultures"] != "no"]
    assert (counted["serving_g"] > 0).all()


@pytest.mark.parametrize(
    "text, desc, expect",
    [
        ("greek yogurt", "YOGURT,GREEK,PLN,NONFAT", ("yogurt", "yes")),
        ("2 tbsp sauerkraut", "SAUERKRAUT,CND,SOL&LIQUIDS", ("sauerkraut_canned", "no")),
        ("raw sauerkraut", "SAUERKRAUT,CND,SOL&LIQUIDS", ("sauerkraut_raw", "yes")),
        ("slice of sourdough", "BREAD, FRENCH OR VIENNA, TSTD (IND SOURDOUGH)", ("sourdough_bread", "no")),
        ("kombucha", None, ("kombucha", "varies")),
        ("dill pickle", "PICKLES,CUCUMBER,DILL OR KOSHER DILL", ("pickles_vinegar", "no")),
        ("glass of buttermilk", "MILK,BTTRMLK,FLUID,CULTURED,LOWFAT", ("buttermilk_cultured", "yes")),
        ("cheddar", "CHEESE,CHEDDAR", ("aged_cheese", "yes")),
        ("american cheese slice", "CHEESE,PAST PROCESS,AMERICAN,FORT W/ VITAMIN D", ("processed_cheese", "no")),
        ("yogurt covered raisins", None, None),
        ("1 tbsp olive oil", "OIL,OLIVE,SALAD OR COOKING", None),
    ],
)
def test_classify_fermented(text, desc, expect):
    got = classify_fermented(text, desc)
    if expect is None:
        assert got is None
    else:
        assert (got["fermented_id"], got["live_cultures"]) == expect
        assert got["citation"].startswith("doi:")


def test_fermented_flags_on_sr28(usda):
    f = fermented_flags(usda)
    assert f.loc["01116", "live_cultures"] == "yes"  # yogurt
    assert f.loc["11118", "live_cultures"] == "yes"  # kimchi
    assert f.loc["11439", "live_cultures"] == "no"  # canned sauerkraut
    assert f.loc["11937", "live_cultures"] == "no"  # dill pickles (vinegar)
    assert f.loc["16114", "live_cultures"] == "no"  # tempeh: cooked before eating
    assert f.loc["01009", "live_cultures"] == "yes"  # cheddar
    assert f.loc["01042", "live_cultures"] == "no"  # processed American cheese
    assert f.loc["09040", "fermented_id"] == ""  # banana
    assert 50 < (f["fermented_id"] != "").sum() < 400


def test_load_food_table(shared):
    foods = load_food_table(
        shared("data", "usda_sr28_abbrev", "ABBREV.txt"), shared("data", "nova_fndds_sr_grocerydb", NOVA_FILE)
    )
    assert {"nova", "nova_source", "fermented_id", "live_cultures", "serving_g"} <= set(foods.columns)
    assert foods.attrs["nova"]["n_with_nova"] == foods["nova"].notna().sum()
    assert foods.attrs["provenance"]["sha256"].startswith("5d8e2736")
    assert re.search("NOVA labels", foods.attrs["filtered"][0]["what"])
