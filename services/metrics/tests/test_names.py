"""Names and tags: sanitising rules, keys, and the guarantee that nothing can break the wire syntax."""

from __future__ import annotations

import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from graphmetrics.names import (
    MAX_KEY_LENGTH,
    check_name,
    metric_key,
    sanitize_name,
    sanitize_tag_key,
    sanitize_tag_value,
    series_path,
    split_key,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("app.requests", "app.requests"),
        ("app requests", "app_requests"),
        ("a\nb", "a_b"),
        ("a\x00b", "a_b"),
        ("a;tag=1", "a_tag_1"),
        ("..a..b..", "a.b"),
        (".a", "a"),
        ("héllo wörld", "h_llo_w_rld"),
        ("GET /api/v1?x=1", "GET__api_v1_x_1"),
        ("under_score-dash.ok", "under_score-dash.ok"),
    ],
)
def test_sanitize_name(raw: str, clean: str) -> None:
    assert sanitize_name(raw) == clean


@pytest.mark.parametrize("raw", ["", ".", "..."])
def test_sanitize_name_refuses_empty_results(raw: str) -> None:
    with pytest.raises(ValueError, match="no usable characters"):
        sanitize_name(raw)


@pytest.mark.parametrize("name", ["app", "apps.hello-world", "a_b.c", "x" * 251 + ".y"])
def test_check_name_accepts_what_sanitize_name_keeps(name: str) -> None:
    assert check_name(name) == sanitize_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "a..b", ".a", "a.", "hello world", "a/b", "a;b=c", "x" * 252, 7])
def test_check_name_refuses_what_sanitize_name_would_change(name: object) -> None:
    with pytest.raises(ValueError, match="is not a clean metric name"):
        check_name(name)  # type: ignore[arg-type]


def test_sanitize_name_refuses_non_strings() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        sanitize_name(b"bytes")  # type: ignore[arg-type]


def test_node_longer_than_a_file_name_is_refused() -> None:
    assert sanitize_name("a" * 251) == "a" * 251
    with pytest.raises(ValueError, match="longer than 251"):
        sanitize_name("a" * 252)
    with pytest.raises(ValueError, match="longer than 251"):
        sanitize_name("ok." + "b" * 300 + " x")


def test_tag_rules() -> None:
    assert sanitize_tag_key("dc") == "dc"
    assert sanitize_tag_key("a;b!c^d=e f") == "a_b_c_d_e_f"
    assert sanitize_tag_value("eu=west!^") == "eu=west!^"  # allowed in values by Graphite
    assert sanitize_tag_value("a;b c\n") == "a_b_c_"
    assert sanitize_tag_value("~regex") == "_regex"
    assert sanitize_tag_value(3) == "3"
    assert sanitize_tag_value("ünï") == "_n_"


@pytest.mark.parametrize("bad", [""])
def test_empty_tags_are_errors(bad: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        sanitize_tag_key(bad)
    with pytest.raises(ValueError, match="empty"):
        sanitize_tag_value(bad)


def test_name_is_reserved_as_tag_key() -> None:
    with pytest.raises(ValueError, match="reserved"):
        metric_key("x", {"name": "y"})


def test_tag_value_of_wrong_type() -> None:
    with pytest.raises(TypeError, match="tag value"):
        sanitize_tag_value(None)  # type: ignore[arg-type]


def test_metric_key_sorts_tags_and_round_trips() -> None:
    key = metric_key("app.latency", {"zone": "b", "dc": "eu-1"})
    assert key == "app.latency;dc=eu-1;zone=b"
    assert split_key(key) == ("app.latency", {"dc": "eu-1", "zone": "b"})
    assert metric_key("app.latency") == "app.latency"
    assert metric_key("app.latency", {}) == "app.latency"
    assert split_key("plain") == ("plain", {})


def test_tag_keys_that_collide_after_sanitising_are_an_error() -> None:
    with pytest.raises(ValueError, match="collide"):
        metric_key("x", {"a b": "1", "a_b": "2"})


def test_split_key_refuses_malformed_tags() -> None:
    for bad in ("x;novalue", "x;=v", "x;k="):
        with pytest.raises(ValueError, match="malformed"):
            split_key(bad)


def test_series_path_places_prefix_field_and_tags() -> None:
    key = metric_key("requests", {"dc": "eu"})
    assert series_path("", key) == "requests;dc=eu"
    assert series_path("apps.hello", key, "count") == "apps.hello.requests.count;dc=eu"
    assert series_path("", "requests", "99_percentile") == "requests.99_percentile"
    assert series_path("bad prefix.", "x", "f") == "bad_prefix.x.f"
    assert series_path("", "x", "buckets.12_5") == "x.buckets.12_5"


def test_series_path_rechecks_hand_made_keys() -> None:
    assert series_path("", "evil name\nother 1 2", "count") == "evil_name_other_1_2.count"
    assert series_path("", "x;k=v v\n", "count") == "x.count;k=v_v_"


def test_overlong_keys_are_refused() -> None:
    name = ".".join(["n" * 200] * 21)  # 4220 characters
    with pytest.raises(ValueError, match="more than 4096"):
        metric_key(name)
    ok = ".".join(["n" * 200] * 20)
    with pytest.raises(ValueError, match="more than 4096"):
        series_path("p" * 200, ok, "count")


# -- property: whatever the input, nothing can add a line, a field or a tag on the wire -------------

_nasty = st.text(
    alphabet=st.sampled_from(list(string.printable) + ["\x00", "\u2028", "\x85", "é", ";", "=", "~", "!", "^"]),
    max_size=40,
)


def _plaintext_fields(path: str) -> list[str]:
    line = f"{path} 1.5 1700000000\n"
    assert line.count("\n") == 1 and line.endswith("\n")
    return line.split()


@settings(derandomize=True, max_examples=300)
@given(name=_nasty, tags=st.dictionaries(_nasty, _nasty, max_size=4), prefix=_nasty, field=_nasty)
@example(name="a b\nc", tags={"k;x": "v\n~w"}, prefix="p\x00", field="f x")
@example(name="x", tags={"k": "~"}, prefix="", field="count")
def test_no_input_breaks_the_wire_syntax(name: str, tags: dict[str, str], prefix: str, field: str) -> None:
    try:
        key = metric_key(name, tags)
        path = series_path(prefix, key, field)
    except ValueError:
        return  # refused loudly: nothing reaches the wire
    assert len(key) <= MAX_KEY_LENGTH and len(path) <= MAX_KEY_LENGTH
    assert path.isascii() and path.isprintable() and " " not in path
    assert len(_plaintext_fields(path)) == 3
    series, *pairs = path.split(";")
    assert series and all(node for node in series.split("."))
    assert set(series) <= set(string.ascii_letters + string.digits + "_.-")
    assert len(pairs) == len(tags)  # one tag per tag given: none added, none lost
    for pair in pairs:
        tag, value = pair.split("=", 1)
        assert tag and value and not set(tag) & set(";!^=") and not value.startswith("~")
    assert split_key(key)[1] == dict(pair.split("=", 1) for pair in pairs)


@settings(derandomize=True)
@given(st.text(max_size=60))
def test_sanitize_name_is_idempotent(raw: str) -> None:
    try:
        clean = sanitize_name(raw)
    except ValueError:
        return
    assert sanitize_name(clean) == clean
