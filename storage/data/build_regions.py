"""Build ``storage/data/regions.csv`` from the ``adcodes.csv`` shipped in the cpca wheel.

The bundled region table is generated once, at development time, and committed. Nothing
here runs in production: ``storage/regions.py`` only reads the resulting CSV with the
standard library.

Source
    ``cpca/resources/adcodes.csv`` from the MIT-licensed ``cpca`` package
    (https://github.com/DQinYuan/chinese_province_city_area_mapper, version 0.5.5);
    columns ``adcode,name,longitude,latitude``. See ``NOTICE`` beside this file.

Usage (re-runnable; the output is deterministic)::

    .venv/bin/pip install pypinyin          # build-time only, not a runtime dependency
    .venv/bin/python storage/data/build_regions.py path/to/cpca/resources/adcodes.csv \
        [-o storage/data/regions.csv]

Output columns
    ``adcode,name,short_name,pinyin,level,province,city,latitude,longitude``

    * ``level`` is ``province``, ``city`` or ``district``.
    * ``province`` / ``city`` are the full names of the enclosing divisions (for a city row
      ``city`` is its own name; for a province row ``city`` is empty, except for the
      municipalities and the SARs, where it repeats the province name).
    * ``short_name`` drops the usual administrative suffix (省, 市, 区, 县, 自治州 ...) and
      ethnic qualifiers (土家族苗族自治州 → 恩施), never leaving fewer than two characters.
    * ``pinyin`` is the lowercase toneless pinyin of ``short_name`` (ü written ``v``), with
      a few hand corrections for place-name readings.

Normalisation of the source
    * ``市辖区`` placeholder rows and the municipality pseudo-cities (``110100 市辖区``,
      ``500200 县``) are dropped: a municipality's districts get the municipality as city.
    * ``省直辖县级行政区划`` pseudo-cities are dropped and their members (仙桃市, 济源市,
      石河子市, 海南's counties ...) become ``city`` rows directly under the province.
    * Rows without coordinates are given a hand-entered coordinate if they are still in
      use (:data:`COORDINATE_FIXES`); the abolished ones are dropped.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

OUTPUT_COLUMNS = (
    "adcode",
    "name",
    "short_name",
    "pinyin",
    "level",
    "province",
    "city",
    "latitude",
    "longitude",
)

#: Province-level divisions whose districts hang directly off the province.
MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
#: Hong Kong and Macau: no subdivisions in the source, treated like municipalities.
SARS = frozenset({"81", "82"})

#: Placeholder names that are not real places.
PROVINCE_DIRECT = frozenset({"省直辖县级行政区划", "自治区直辖县级行政区划"})
PLACEHOLDER_NAMES = frozenset({"市辖区", "县"}) | PROVINCE_DIRECT

#: Rows that have no coordinates in the source but still exist: (latitude, longitude) of
#: the seat of government, entered by hand.
COORDINATE_FIXES: dict[str, tuple[str, str]] = {
    "139001000000": ("38.516", "114.990"),  # 定州市
    "139002000000": ("37.943", "115.218"),  # 辛集市
    "320812000000": ("33.552", "119.026"),  # 淮安市清江浦区
}

#: Suffixes removed to form ``short_name``, longest first; only one is removed.
SUFFIXES = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "林区",
    "特区",
    "新区",
    "省",
    "市",
    "区",
    "县",
    "盟",
    "旗",
)

#: Ethnic groups as they appear inside names of autonomous divisions (各 as in 各族).
ETHNIC_GROUPS = tuple(
    sorted(
        [
            "蒙古",
            "回",
            "藏",
            "维吾尔",
            "苗",
            "彝",
            "壮",
            "布依",
            "朝鲜",
            "满",
            "侗",
            "瑶",
            "白",
            "土家",
            "哈尼",
            "哈萨克",
            "傣",
            "黎",
            "傈僳",
            "佤",
            "畲",
            "高山",
            "拉祜",
            "水",
            "东乡",
            "纳西",
            "景颇",
            "柯尔克孜",
            "土",
            "达斡尔",
            "仫佬",
            "羌",
            "布朗",
            "撒拉",
            "毛南",
            "仡佬",
            "锡伯",
            "阿昌",
            "普米",
            "塔吉克",
            "怒",
            "乌孜别克",
            "俄罗斯",
            "鄂温克",
            "德昂",
            "保安",
            "裕固",
            "京",
            "塔塔尔",
            "独龙",
            "鄂伦春",
            "赫哲",
            "门巴",
            "珞巴",
            "基诺",
            "各",
        ],
        key=len,
        reverse=True,
    )
)

#: Names whose short form is chosen by hand.
SHORT_NAME_OVERRIDES = {"中沙群岛的岛礁及其海域": "中沙群岛"}

#: Characters whose reading in place names differs from pypinyin's default guess.
PINYIN_CHAR_OVERRIDES = {
    "长": "chang",
    "都": "du",
    "朝": "chao",
    "什": "shi",
    "勒": "le",
    "佛": "fo",
}

#: Whole short names with a reading pypinyin gets wrong (or a conventional spelling).
PINYIN_WORD_OVERRIDES = {
    "陕西": "shaanxi",  # official romanisation, distinct from 山西 shanxi
    "单县": "shanxian",
    "洪洞": "hongtong",
    "尉氏": "yushi",
    "涡阳": "guoyang",
    "筠连": "junlian",
    "漯河": "luohe",
    "珲春": "hunchun",
    "浚县": "xunxian",
    "中牟": "zhongmou",
    "繁峙": "fanshi",
    "伽师": "jiashi",
    "六合": "luhe",
    "闵行": "minhang",
    "南乐": "nanle",
    "民乐": "minle",
    "泊头": "botou",
    "龙圩": "longxu",
    "浪卡子": "langkazi",
}


@dataclass(frozen=True, slots=True)
class SourceRow:
    adcode: str
    name: str
    latitude: str
    longitude: str


def short_name(name: str) -> str:
    """Drop one administrative suffix (and ethnic qualifiers), keeping at least 2 chars."""
    if name in SHORT_NAME_OVERRIDES:
        return SHORT_NAME_OVERRIDES[name]
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            stem = name[: -len(suffix)]
            if "自治" in suffix:
                stem = _strip_ethnic(stem)
            return stem
    return name


def _strip_ethnic(stem: str) -> str:
    changed = True
    while changed:
        changed = False
        for group in ETHNIC_GROUPS:
            for ending in (group + "族", group if len(group) >= 2 else None):
                if ending and stem.endswith(ending) and len(stem) - len(ending) >= 2:
                    stem = stem[: -len(ending)]
                    changed = True
                    break
            if changed:
                break
    if stem.endswith("族") and len(stem) >= 3:  # 鄂温克族, 东乡族: the name is the group
        stem = stem[:-1]
    return stem


def _default_pinyin() -> Callable[[str], list[str]]:
    try:
        pypinyin = importlib.import_module("pypinyin")
    except ImportError:  # pragma: no cover - build-time tool
        sys.exit("pypinyin is needed to build regions.csv: .venv/bin/pip install pypinyin")

    def convert(text: str) -> list[str]:
        syllables: list[str] = pypinyin.lazy_pinyin(text, style=pypinyin.Style.NORMAL)
        return syllables

    return convert


def to_pinyin(short: str, convert: Callable[[str], list[str]]) -> str:
    if short in PINYIN_WORD_OVERRIDES:
        return PINYIN_WORD_OVERRIDES[short]
    # Convert the whole word so pypinyin can use its phrase dictionary, then apply the
    # per-character overrides on top of it.
    whole = convert(short)
    if len(whole) != len(short):  # pragma: no cover - every name is all Chinese characters
        raise ValueError(f"cannot align pinyin {whole!r} with {short!r}")
    parts = [
        PINYIN_CHAR_OVERRIDES.get(char, syllable)
        for char, syllable in zip(short, whole, strict=True)
    ]
    return "".join(parts).lower().replace("ü", "v")


def read_source(path: Path) -> list[SourceRow]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [
            SourceRow(
                adcode=row["adcode"].strip(),
                name=row["name"].strip(),
                latitude=row["latitude"].strip(),
                longitude=row["longitude"].strip(),
            )
            for row in reader
        ]
    return sorted(rows, key=lambda row: row.adcode)


def build(rows: Iterable[SourceRow], convert: Callable[[str], list[str]]) -> list[list[str]]:
    by_code = {row.adcode: row for row in rows}
    provinces = {code[:2]: row for code, row in by_code.items() if code[2:] == "0" * 10}
    out: list[list[str]] = []
    for code, row in sorted(by_code.items()):
        if len(code) != 12 or not code.isdigit():
            raise ValueError(f"unexpected adcode {code!r}")
        if row.name in PLACEHOLDER_NAMES:
            continue
        latitude, longitude = row.latitude, row.longitude
        if not latitude or not longitude:
            if code not in COORDINATE_FIXES:
                continue  # abolished division without coordinates
            latitude, longitude = COORDINATE_FIXES[code]
        province = provinces[code[:2]]
        city_row = by_code.get(code[:4] + "0" * 8)
        if code[2:] == "0" * 10:
            level = "province"
            city = row.name if code[:2] in MUNICIPALITIES | SARS else ""
        elif code[4:] == "0" * 8:
            level = "city"
            city = row.name
        elif code[:2] in MUNICIPALITIES:
            level = "district"
            city = province.name
        elif city_row is None or city_row.name in PROVINCE_DIRECT:
            # A county-level city (or county) administered directly by the province.
            level = "city"
            city = row.name
        else:
            level = "district"
            city = city_row.name
        short = short_name(row.name)
        out.append(
            [
                code,
                row.name,
                short,
                to_pinyin(short, convert),
                level,
                province.name,
                city,
                latitude,
                longitude,
            ]
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("adcodes", type=Path, help="path to cpca/resources/adcodes.csv")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path(__file__).with_name("regions.csv"),
        help="where to write regions.csv (default: beside this script)",
    )
    args = parser.parse_args(argv)
    rows = build(read_source(args.adcodes), _default_pinyin())
    with args.output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(OUTPUT_COLUMNS)
        writer.writerows(rows)
    print(f"wrote {len(rows)} regions to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
