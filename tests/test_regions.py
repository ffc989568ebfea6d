"""Tests for storage.regions: offline place-name and GPS-pin resolution."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from storage.regions import DEFAULT_DATA_PATH, Region, RegionIndex, default_index

HEADER = "adcode,name,short_name,pinyin,level,province,city,latitude,longitude"


@pytest.fixture(scope="module")
def index() -> RegionIndex:
    return default_index()


def label(index: RegionIndex, text: str) -> str | None:
    region = index.resolve_text(text)
    return None if region is None else region.label()


# ------------------------------------------------------------------------ text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("湖北武汉江汉区", "湖北省 武汉市 江汉区"),
        ("武汉市江汉区", "湖北省 武汉市 江汉区"),
        ("湖北省武汉市江汉区", "湖北省 武汉市 江汉区"),
        ("江汉区", "湖北省 武汉市 江汉区"),
        ("深圳", "广东省 深圳市"),
        ("深圳市", "广东省 深圳市"),
        ("广东省深圳市南山区", "广东省 深圳市 南山区"),
        ("广东 深圳 南山", "广东省 深圳市 南山区"),
        ("  深 圳 ！", "广东省 深圳市"),
        ("湖北", "湖北省"),
        ("湖北省", "湖北省"),
        ("广西", "广西壮族自治区"),
        ("内蒙古", "内蒙古自治区"),
        ("恩施州", "湖北省 恩施土家族苗族自治州"),
        ("仙桃", "湖北省 仙桃市"),
        ("武汉市江汉区解放大道100号", "湖北省 武汉市 江汉区"),
        ("<b>深圳</b>", "广东省 深圳市"),
        # Renamed after the data snapshot (梁平县 → 梁平区): the short name still matches.
        ("梁平区", "重庆市 梁平县"),
    ],
)
def test_resolve_text_chinese(index: RegionIndex, text: str, expected: str) -> None:
    assert label(index, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Shenzhen", "广东省 深圳市"),
        ("shenzhen nanshan", "广东省 深圳市 南山区"),
        ("Shenzhen City, Nanshan District", "广东省 深圳市 南山区"),
        ("Wuhan, Jianghan", "湖北省 武汉市 江汉区"),
        ("wuhanjianghan", "湖北省 武汉市 江汉区"),
        ("Wu Han", "湖北省 武汉市"),
        ("I live in Shenzhen, Nanshan district", "广东省 深圳市 南山区"),
        ("Xi'an", "陕西省 西安市"),
        ("Shaanxi", "陕西省"),
        ("Shanxi", "山西省"),
        ("Chongqing", "重庆市"),
        ("Beijing Chaoyang", "北京市 朝阳区"),
        ("Hong Kong", "香港特别行政区"),
        ("Macau", "澳门特别行政区"),
        ("lvliang", "山西省 吕梁市"),
        ("luliang", "山西省 吕梁市"),
        ("湖北 wuhan", "湖北省 武汉市"),
    ],
)
def test_resolve_text_pinyin(index: RegionIndex, text: str, expected: str) -> None:
    assert label(index, text) == expected


def test_full_width_and_half_width(index: RegionIndex) -> None:
    assert label(index, "ＳＨＥＮＺＨＥＮ　ＮＡＮＳＨＡＮ") == "广东省 深圳市 南山区"
    assert label(index, "深圳，南山。") == "广东省 深圳市 南山区"


def test_region_fields(index: RegionIndex) -> None:
    region = index.resolve_text("武汉市江汉区")
    assert region is not None
    assert region.adcode == "420103000000"
    assert (region.province, region.city, region.district) == ("湖北省", "武汉市", "江汉区")
    assert region.latitude == pytest.approx(30.6015, abs=0.01)
    assert region.longitude == pytest.approx(114.2709, abs=0.01)

    city = index.resolve_text("深圳")
    assert city is not None
    assert (city.province, city.city, city.district) == ("广东省", "深圳市", None)

    province = index.resolve_text("湖北")
    assert province is not None
    assert (province.province, province.city, province.district) == ("湖北省", None, None)


def test_municipalities(index: RegionIndex) -> None:
    district = index.resolve_text("北京市朝阳区")
    assert district is not None
    assert (district.province, district.city, district.district) == ("北京市", "北京市", "朝阳区")
    assert district.label() == "北京市 朝阳区"

    whole = index.resolve_text("北京")
    assert whole is not None
    assert (whole.province, whole.city, whole.district) == ("北京市", "北京市", None)
    assert whole.label() == "北京市"

    county = index.resolve_text("重庆忠县")
    assert county is not None
    assert county.label() == "重庆市 忠县"
    assert label(index, "上海浦东新区") == "上海市 浦东新区"
    assert label(index, "浦东") == "上海市 浦东新区"


def test_label_skips_repeats() -> None:
    region = Region("110105000000", "北京市", "北京市", "朝阳区", 39.9, 116.4)
    assert region.label() == "北京市 朝阳区"
    assert Region("420000000000", "湖北省", None, None, 30.5, 114.3).label() == "湖北省"


# ------------------------------------------------------------------ ambiguity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 朝阳区 exists in Beijing and in Changchun: context decides, no context → None.
        ("朝阳区", None),
        ("北京朝阳区", "北京市 朝阳区"),
        ("北京朝阳", "北京市 朝阳区"),
        ("长春朝阳区", "吉林省 长春市 朝阳区"),
        ("吉林朝阳区", "吉林省 长春市 朝阳区"),
        # 朝阳 is also a city in Liaoning: the city-level reading wins without context.
        ("朝阳", "辽宁省 朝阳市"),
        ("辽宁朝阳", "辽宁省 朝阳市"),
        # 南山区: Shenzhen and Hegang.
        ("南山", None),
        ("nanshan", None),
        ("深圳南山", "广东省 深圳市 南山区"),
        ("鹤岗南山区", "黑龙江省 鹤岗市 南山区"),
        # 鼓楼区: Nanjing, Xuzhou, Fuzhou, Kaifeng.
        ("鼓楼区", None),
        ("南京鼓楼", "江苏省 南京市 鼓楼区"),
        ("fuzhou gulou", "福建省 福州市 鼓楼区"),
        ("江苏鼓楼", "江苏省"),  # two in Jiangsu: only the province is certain
        # Province vs. a same-named smaller division elsewhere.
        ("海南", "海南省"),
        ("青海海南", "青海省 海南藏族自治州"),
        ("河北", "河北省"),
        ("天津河北区", "天津市 河北区"),
        # Province and city share a name.
        ("吉林", "吉林省"),
        ("吉林吉林", "吉林省 吉林市"),
        ("吉林省吉林市", "吉林省 吉林市"),
        # Same pinyin, different places.
        ("fuzhou", None),
        ("taizhou", None),
        ("通州", None),
        ("北京通州", "北京市 通州区"),
    ],
)
def test_ambiguity(index: RegionIndex, text: str, expected: str | None) -> None:
    assert label(index, text) == expected


def test_contradiction_uses_the_earliest_name(index: RegionIndex) -> None:
    # Street names are often place names; addresses go from large to small.
    assert label(index, "上海南京路") == "上海市"


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\n\t",
        "<b>x</b>",
        "<script>alert(1)</script>",
        "hello world",
        "？？？！！！",
        "12345",
        "x" * 5000,
        "!@#$%^&*()" * 500,
        "asdf " * 1000,
        "🙂" * 300,
        "火星",
    ],
)
def test_unknown_text(index: RegionIndex, text: str) -> None:
    assert index.resolve_text(text) is None


def test_a_paste_of_junk_is_no_place(index: RegionIndex) -> None:
    # How long such a paste takes is measured in benchmarks/regions.py, not here.
    junk = ["x" * 5000, "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要" * 120]
    assert [index.resolve_text(text) for text in junk] == [None, None]


# ---------------------------------------------------------------------- point


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        (30.6015, 114.2709, "湖北省 武汉市 江汉区"),
        (22.5333, 113.9304, "广东省 深圳市 南山区"),
        (39.9288, 116.4165, "北京市 东城区"),
        (39.9593, 116.2983, "北京市 海淀区"),
        (31.2317, 121.4844, "上海市 黄浦区"),
        (30.36, 113.42, "湖北省 仙桃市"),
        (22.28, 114.17, "香港特别行政区"),
    ],
)
def test_resolve_point(
    index: RegionIndex, latitude: float, longitude: float, expected: str
) -> None:
    region = index.resolve_point(latitude, longitude)
    assert region is not None
    assert region.label() == expected


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        (48.85, 2.35),  # Paris
        (40.71, -74.0),  # New York
        (0.0, 0.0),  # Gulf of Guinea
        (25.0, 130.0),  # Pacific, east of Okinawa
        (math.nan, 114.0),
        (30.0, math.inf),
        (91.0, 0.0),
        (0.0, 181.0),
    ],
)
def test_resolve_point_far_or_invalid(
    index: RegionIndex, latitude: float, longitude: float
) -> None:
    assert index.resolve_point(latitude, longitude) is None


def test_resolve_point_radius(index: RegionIndex) -> None:
    # About 2 km from the Jianghan centroid.
    assert index.resolve_point(30.62, 114.27, max_distance_km=5) is not None
    assert index.resolve_point(30.62, 114.27, max_distance_km=0.1) is None
    # Seoul is about 400 km from the nearest Chinese centroid in the data.
    assert index.resolve_point(37.57, 126.98) is None
    assert index.resolve_point(37.57, 126.98, max_distance_km=2000) is not None


# ----------------------------------------------------------------- data/index


def test_default_index_is_cached() -> None:
    assert default_index() is default_index()


def test_load_reads_every_county() -> None:
    # The load time is a figure of benchmarks/regions.py.
    assert len(RegionIndex.load()) > 3000


def test_get_by_adcode(index: RegionIndex) -> None:
    region = index.get("440305000000")
    assert region is not None
    assert region.label() == "广东省 深圳市 南山区"
    assert index.get("999999999999") is None


def test_load_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "regions.csv"
    path.write_text(
        HEADER
        + "\n420000000000,湖北省,湖北,hubei,province,湖北省,,30.54,114.34"
        + "\n420100000000,武汉市,武汉,wuhan,city,湖北省,武汉市,30.59,114.30"
        + "\n420103000000,江汉区,江汉,jianghan,district,湖北省,武汉市,30.60,114.27\n",
        encoding="utf-8",
    )
    index = RegionIndex.load(path)
    assert len(index) == 3
    assert label(index, "jianghan") == "湖北省 武汉市 江汉区"
    assert label(index, "湖北") == "湖北省"
    assert index.resolve_point(30.60, 114.27) == index.get("420103000000")


@pytest.mark.parametrize(
    "body",
    [
        "adcode,name\n420000000000,湖北省\n",
        HEADER + "\n42,湖北省,湖北,hubei,province,湖北省,,30.54,114.34\n",
        HEADER + "\n420000000000,湖北省,湖北,hubei,country,湖北省,,30.54,114.34\n",
        HEADER + "\n420103000000,江汉区,江汉,jianghan,district,湖北省,武汉市,30.60,114.27\n",
    ],
)
def test_load_rejects_bad_files(tmp_path: Path, body: str) -> None:
    path = tmp_path / "regions.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by defect
        RegionIndex.load(path)


def test_regions_csv_is_consistent() -> None:
    with DEFAULT_DATA_PATH.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == HEADER.split(",")
        rows = list(reader)
    assert len(rows) > 3000
    by_code = {row["adcode"]: row for row in rows}
    assert len(by_code) == len(rows), "duplicate adcodes"
    names_by_level: dict[str, set[str]] = {"province": set(), "city": set(), "district": set()}
    for row in rows:
        names_by_level[row["level"]].add(row["name"])
    assert len(names_by_level["province"]) == 34

    for row in rows:
        code, level = row["adcode"], row["level"]
        assert len(code) == 12 and code.isdigit(), code
        assert row["pinyin"].isascii() and row["pinyin"].isalpha(), row
        assert row["pinyin"] == row["pinyin"].lower(), row
        assert len(row["short_name"]) >= 2 or row["short_name"] == row["name"], row
        assert row["name"].startswith(row["short_name"]), row
        assert -90 <= float(row["latitude"]) <= 90 and -180 <= float(row["longitude"]) <= 180

        province = by_code.get(code[:2] + "0" * 10)
        assert province is not None, f"{code}: no province row"
        assert province["level"] == "province"
        assert row["province"] == province["name"], row
        if level == "province":
            assert code[2:] == "0" * 10
            continue
        assert row["city"], row
        if level == "city":
            assert row["city"] == row["name"], row
            continue
        assert level == "district", row
        city = by_code.get(code[:4] + "0" * 8)
        if city is None:  # municipality: the districts sit directly under it
            assert row["city"] == row["province"], row
        else:
            assert city["level"] == "city"
            assert row["city"] == city["name"], row

    # Spot checks of the short names and pinyin.
    assert by_code["440300000000"]["short_name"] == "深圳"
    assert by_code["440300000000"]["pinyin"] == "shenzhen"
    assert by_code["420103000000"]["pinyin"] == "jianghan"
    assert by_code["500233000000"]["short_name"] == "忠县"
    assert by_code["450000000000"]["short_name"] == "广西"
    assert by_code["500000000000"]["pinyin"] == "chongqing"
    assert by_code["350200000000"]["pinyin"] == "xiamen"
