"""Text normalisation shared by the food matcher and the NOVA join.

USDA SR28 short descriptions are upper-case and abbreviated ("YOGURT,PLN,WHL MILK",
"CHCKN,BROLR OR FRYRS,BRST,SKNLSS,BNLESS,MEAT ONLY,CKD,GRILLD"). People write "greek yogurt",
"grilled chicken breast". Both sides go through :func:`tokens`: lower case, split on punctuation,
USDA abbreviations expanded, simple English plurals folded ("berries" -> "berry"), so that the
matcher compares words with words.

The abbreviation list follows the abbreviations used in SR short descriptions (USDA SR28
documentation, "Abbreviations Used in Short Descriptions") plus misspelt variants found in the
file itself (CHICkN, CHCKN, BROLR, GRILLD...).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["expand", "normalize_phrase", "segments", "stem", "tokens"]

# abbreviation -> expansion (one or more words); keys are lower case
ABBREVIATIONS: dict[str, str] = {
    "w": "with",
    "wo": "without",
    "w/": "with",
    "wo/": "without",
    "ckd": "cooked",
    "unckd": "uncooked",
    "cnd": "canned",
    "frz": "frozen",
    "rstd": "roasted",
    "rst": "roast",
    "bld": "boiled",
    "brsd": "braised",
    "brld": "broiled",
    "stwd": "stewed",
    "stmd": "steamed",
    "simmrd": "simmered",
    "bkd": "baked",
    "tstd": "toasted",
    "grld": "grilled",
    "grlld": "grilled",
    "grild": "grilled",
    "grilld": "grilled",
    "htd": "heated",
    "unhtd": "unheated",
    "fr": "fried",
    "bnless": "boneless",
    "bnls": "boneless",
    "bnles": "boneless",
    "bnlss": "boneless",
    "bnl": "boneless",
    "drnd": "drained",
    "rnd": "round",
    "choic": "choice",
    "chc": "choice",
    "sel": "select",
    "whl": "whole",
    "imp": "imported",
    "rte": "ready to eat",
    "rts": "ready to serve",
    "rtd": "ready to drink",
    "rtf": "ready to feed",
    "rtb": "ready to bake",
    "rth": "ready to heat",
    "choc": "chocolate",
    "chick": "chicken",
    "chicken": "chicken",
    "chckn": "chicken",
    "chickn": "chicken",
    "chcken": "chicken",
    "ckn": "chicken",
    "chk": "chicken",
    "chik": "chicken",
    "broilr": "broiler",
    "brolr": "broiler",
    "brler": "broiler",
    "fryrs": "fryers",
    "brst": "breast",
    "sknlss": "skinless",
    "sknls": "skinless",
    "skn": "skin",
    "mt": "meat",
    "grds": "grades",
    "h2o": "water",
    "bf": "beef",
    "chs": "cheese",
    "nz": "new zealand",
    "juc": "juice",
    "unprep": "unprepared",
    "prep": "prepared",
    "veg": "vegetable",
    "sol": "solids",
    "shldr": "shoulder",
    "shdr": "shoulder",
    "reg": "regular",
    "stks": "sticks",
    "crm": "cream",
    "crmd": "creamed",
    "lt": "light",
    "pdr": "powder",
    "var": "variety",
    "cond": "condensed",
    "inf": "infant",
    "lo": "low",
    "pln": "plain",
    "sau": "sauce",
    "vit": "vitamin",
    "bev": "beverage",
    "pk": "pack",
    "drsng": "dressing",
    "na": "sodium",
    "dom": "domestic",
    "aus": "australian",
    "inst": "instant",
    "swt": "sweet",
    "sndwch": "sandwich",
    "drk": "drink",
    "mxd": "mixed",
    "bns": "beans",
    "flr": "flour",
    "enr": "enriched",
    "unenr": "unenriched",
    "str": "strained",
    "grn": "green",
    "grns": "greens",
    "crl": "cereal",
    "rtl": "retail",
    "comp": "composite",
    "dk": "dark",
    "pnut": "peanut",
    "pnuts": "peanuts",
    "cinn": "cinnamon",
    "incl": "includes",
    "inc": "includes",
    "ind": "includes",
    "incld": "includes",
    "commly": "commercially",
    "comm": "commercial",
    "fort": "fortified",
    "eq": "equal",
    "shrt": "short",
    "sp": "species",
    "frstd": "frosted",
    "frstng": "frosting",
    "bttm": "bottom",
    "ca": "calcium",
    "lofat": "lowfat",
    "prot": "protein",
    "conc": "concentrate",
    "soln": "solution",
    "sln": "solution",
    "appl": "apple",
    "appls": "apples",
    "applsauc": "applesauce",
    "sprd": "spread",
    "swtnd": "sweetened",
    "unswtnd": "unsweetened",
    "swtnr": "sweetener",
    "ex": "extra",
    "lrg": "large",
    "sml": "small",
    "med": "medium",
    "hvy": "heavy",
    "btld": "bottled",
    "nat": "natural",
    "liq": "liquid",
    "dssrt": "dessert",
    "spl": "special",
    "drumstk": "drumstick",
    "nutr": "nutrition",
    "brkfst": "breakfast",
    "krnls": "kernels",
    "cocnt": "coconut",
    "immat": "immature",
    "hydr": "hydrogenated",
    "hydrog": "hydrogenated",
    "refr": "refrigerated",
    "sd": "seed",
    "sds": "seeds",
    "past": "pasteurized",
    "bttrmlk": "buttermilk",
    "flav": "flavored",
    "soybn": "soybean",
    "chopd": "chopped",
    "cmdty": "commodity",
    "smmr": "summer",
    "wntr": "winter",
    "fd": "food",
    "todd": "toddler",
    "jr": "junior",
    "mshd": "mashed",
    "recon": "reconstituted",
    "dehyd": "dehydrated",
    "prtrhs": "porterhouse",
    "asprt": "aspartame",
    "imitn": "imitation",
    "pnappl": "pineapple",
    "sirl": "sirloin",
    "brding": "breading",
    "brd": "breaded",
    "lttc": "lettuce",
    "coatd": "coated",
    "bsd": "based",
    "decaff": "decaffeinated",
    "decaffei": "decaffeinated",
    "marshmllw": "marshmallow",
    "brwn": "brown",
    "sgr": "sugar",
    "blde": "blade",
    "chnky": "chunky",
    "slce": "slice",
    "chps": "chips",
    "frnched": "frenched",
    "ln": "lean",
    "mayo": "mayonnaise",
    "oz": "ounce",
    "cal": "calorie",
    "add": "added",
    "dil": "diluted",
    "undil": "undiluted",
    "evap": "evaporated",
    "yel": "yellow",
    "wht": "white",
    "pudd": "pudding",
    "scalloped": "scalloped",
    "scallpd": "scalloped",
    "mat": "mature",
    "cntr": "center",
    "sub": "substitute",
    "yng": "young",
    "gm": "gram",
    "dsrt": "dessert",
    "noncarb": "noncarbonated",
    "carb": "carbonated",
    "rest-prep": "restaurant prepared",
    "rstrnt": "restaurant",
    "crumbs": "crumbs",
    "std": "standard",
    "pk'd": "packed",
    "dr": "dry",
    "mic": "microwaved",
    "microwvd": "microwaved",
    "tbsp": "tablespoon",
    "tsp": "teaspoon",
    "cttnsd": "cottonseed",
    "grd": "ground",
    "grnd": "ground",
    "ital": "italian",
    "ckd/rstd": "cooked roasted",
    "frsh": "fresh",
    "condmnt": "condiment",
    "cndmnt": "condiment",
    "parbld": "parboiled",
    "frt": "fruit",
    "brdng": "breading",
    "tndr": "tender",
    "mushrm": "mushroom",
    "grlled": "grilled",
    "unprp": "unprepared",
    "tstr": "toaster",
    "pstr": "pastry",
    "trky": "turkey",
    "scrmbld": "scrambled",
    "grvy": "gravy",
    "mcrwveable": "microwaveable",
    "grpfrt": "grapefruit",
    "blnd": "blend",
    "frnch": "french",
    "frch": "french",
    "tndrln": "tenderloin",
    "whtnr": "whitener",
    "brgr": "burger",
    "ptty": "patty",
    "crst": "crust",
    "flsh": "flesh",
    "enched": "enriched",
    "prop": "propionate",
    "cntry": "country",
    "srln": "sirloin",
    "lg": "large",
    "dbl": "double",
    "rmvd": "removed",
    "shk": "shank",
    "shnk": "shank",
    "frm": "farm",
    "brl": "broiled",
    "bbq": "barbecue",
    "styl": "style",
    "prdct": "product",
    "xcpt": "except",
    "mst": "moist",
    "ht": "heat",
    "unspec": "unspecified",
    "nfs": "nfs",
}

# plural forms that the simple rules get wrong
_IRREGULAR = {
    "leaves": "leaf",
    "loaves": "loaf",
    "halves": "half",
    "knives": "knife",
    "fries": "fry",
    "cookies": "cookie",
    "pies": "pie",
    "brownies": "brownie",
    "smoothies": "smoothie",
    "sardines": "sardine",
    "olives": "olive",
    "chives": "chive",
    "anchovies": "anchovy",
    "hummus": "hummus",
    "asparagus": "asparagus",
    "couscous": "couscous",
    "molasses": "molasses",
    "swiss": "swiss",
    "grass": "grass",
    "bass": "bass",
    "citrus": "citrus",
    "octopus": "octopus",
    "oats": "oat",
    "peas": "pea",
    "chickpeas": "chickpea",
    "lentils": "lentil",
    "mangoes": "mango",
    "dates": "date",
    "grapes": "grape",
    "sauces": "sauce",
    "juices": "juice",
    "slices": "slice",
    "pieces": "piece",
    "cheeses": "cheese",
    "noodles": "noodle",
    "vegetables": "vegetable",
    "beverages": "beverage",
    "crackers": "cracker",
    "chips": "chip",
    "tomatoes": "tomato",
    "potatoes": "potato",
    "radishes": "radish",
    "peaches": "peach",
    "sandwiches": "sandwich",
    "whiskies": "whisky",
    "glasses": "glass",
    "us": "us",
    "gas": "gas",
    "has": "has",
    "is": "is",
    "this": "this",
    "was": "was",
    "its": "its",
    "plus": "plus",
    "nuts": "nut",
    "greens": "green",
    "always": "always",
    "series": "series",
    "species": "species",
    "cress": "cress",
    "hollandaise": "hollandaise",
    "mayonnaise": "mayonnaise",
    "lettuces": "lettuce",
    "eggs": "egg",
    "kiwis": "kiwi",
    "kiwifruit": "kiwi",
    "doughnuts": "doughnut",
    "donuts": "doughnut",
}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Fold a simple English plural to its singular ("berries" -> "berry", "peaches" -> "peach")."""
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "sses", "xes", "zes")):
        return w[:-2]
    if w.endswith("oes"):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is", "ous")):
        return w[:-1]
    return w


_SPLIT = re.compile(r"[^a-z0-9%'/\-]+")
_RED_NEXT = {"fat", "na", "sodium", "cal", "calorie", "sugar", "-cal", "lactose", "cholesterol", "fat/"}


def expand(word: str) -> list[str]:
    """Expand one lower-case token: USDA abbreviation -> words; hyphenated words -> parts."""
    w = word.strip("'-/")
    if not w:
        return []
    if w in ABBREVIATIONS:
        return ABBREVIATIONS[w].split()
    if w.endswith("/") and w[:-1] in ABBREVIATIONS:
        return ABBREVIATIONS[w[:-1]].split()
    if "/" in w:  # "w/salt", "wo/skin", "and/or"
        out = []
        for part in w.split("/"):
            out.extend(expand(part))
        return out
    if "-" in w and not re.fullmatch(r"[0-9.\-]+", w):
        parts = [p for p in w.split("-") if p]
        out = []
        for p in parts:
            out.extend(expand(p))
        return out
    if w.endswith("'s"):
        w = w[:-2]
    return [w]


@lru_cache(maxsize=65536)
def _tokens_cached(text: str) -> tuple[str, ...]:
    raw = [t for t in _SPLIT.split(text.lower()) if t]
    out: list[str] = []
    for i, t in enumerate(raw):
        if t == "red" and i + 1 < len(raw) and raw[i + 1] in _RED_NEXT:
            out.append("reduced")
            continue
        for e in expand(t):
            if e:
                out.append(stem(e))
    return tuple(out)


def tokens(text: str) -> list[str]:
    """Lower-case word tokens with abbreviations expanded and plurals folded."""
    return list(_tokens_cached(str(text)))


def segments(description: str) -> list[list[str]]:
    """Comma-separated segments of a USDA description, each as its token list."""
    return [tokens(seg) for seg in str(description).split(",") if seg.strip()]


def description_words(description: str) -> list[list[dict]]:
    """Segments of a USDA description as lists of words; each word is a dict with its
    ``tokens`` (abbreviations expanded), ``paren`` (inside parentheses) and ``after_with``
    (after a "with"/"W/" in the same segment: an addition, e.g. "W/VEG")."""
    out = []
    depth = 0
    text = re.sub(r"\bRED(?=[ ]+(FAT|NA|CAL|CALORIE|SUGAR|LACTOSE|CHOL)\b)", "REDUCED", str(description), flags=re.I)
    text = re.sub(r"\bRED-(?=CAL\b)", "REDUCED ", text, flags=re.I)
    for seg in re.split(r"[,;]", text):
        if not seg.strip():
            continue
        words = []
        after_with = after_without = False
        for raw in re.findall(r"\(|\)|[^\s()]+", seg):
            if raw == "(":
                depth += 1
                continue
            if raw == ")":
                depth = max(depth - 1, 0)
                continue
            toks = tokens(raw)
            if not toks:
                continue
            low = raw.lower()
            if low.startswith(("wo/", "without")) or low == "wo":
                after_without, after_with = True, False
            elif low.startswith(("w/", "with")) or low == "w":
                after_with, after_without = True, False
            words.append({"tokens": toks, "paren": depth > 0, "after_with": after_with, "after_without": after_without})
        if words:
            out.append(words)
    return out


def normalize_phrase(text: str) -> str:
    """A canonical key for a free-text phrase (tokens joined by one space)."""
    return " ".join(tokens(text))
