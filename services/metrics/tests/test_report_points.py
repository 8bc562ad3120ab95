"""flatten(): the one path from a snapshot to the points that leave the process."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphmetrics.names import MAX_KEY_LENGTH, metric_key, series_path
from graphmetrics.readout import bucket_node, flatten, format_value


def test_paths_are_prefix_name_field_in_snapshot_order() -> None:
    snapshot = {"hello_called": {"count": 3}, "world_size": {"99_percentile": 12.5, "count": 2}}
    assert flatten(snapshot, "helloworld.inst1").points == [
        ("helloworld.inst1.hello_called.count", 3),
        ("helloworld.inst1.world_size.99_percentile", 12.5),
        ("helloworld.inst1.world_size.count", 2),
    ]


def test_empty_prefix_gives_no_leading_dot_and_tags_follow_the_field() -> None:
    key = metric_key("requests", {"path": "/hello", "code": "200"})
    assert flatten({key: {"1m_rate": 0.25}}).points == [("requests.1m_rate;code=200;path=/hello", 0.25)]


def test_nan_and_infinities_are_never_sent_but_are_not_errors() -> None:
    flat = flatten({"g": {"value": math.nan}, "h": {"max": math.inf, "min": -math.inf, "count": 0}})
    assert flat.points == [("h.count", 0)]
    assert flat.rejected == 0


def test_a_non_number_or_an_unbuildable_path_is_rejected_alone() -> None:
    too_long = "x" * 200 + "." + "y" * 200
    snapshot = {
        "ok": {"count": 1},
        "weird": {"value": "12", "count": 4},
        ".".join([too_long] * 11): {"count": 5, "sum": 6},
    }
    flat = flatten(snapshot, "p")
    assert flat.points == [("p.ok.count", 1), ("p.weird.count", 4)]
    assert flat.rejected == 2


def test_bools_and_other_integrals_become_ints() -> None:
    assert flatten({"b": {"value": True}}).points == [("b.value", 1)]
    assert type(flatten({"b": {"value": True}}).points[0][1]) is int


@pytest.mark.parametrize(
    ("value", "text"),
    [(3, "3"), (2**70, str(2**70)), (0.1, "0.1"), (1 / 3, "0.3333333333333333"), (1e300, "1e+300"), (-0.0, "-0.0")],
)
def test_format_value_keeps_full_precision(value: float, text: str) -> None:
    assert format_value(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_value_round_trips_every_finite_float(value: float) -> None:
    assert float(format_value(value)) == value


@pytest.mark.parametrize(
    ("bound", "node"),
    [(12.5, "12_5"), (100.0, "100"), (1250740.3, "1250740"), (1e-5, "0_00001"), (-0.5, "-0_5"), (0.0, "0")],
)
def test_bucket_node_is_a_number_with_underscore_for_the_point(bound: float, node: str) -> None:
    assert bucket_node(bound) == node


@given(st.floats(min_value=1e-9, max_value=1e12))
def test_bucket_node_reads_back_as_the_bound_to_six_digits(bound: float) -> None:
    node = bucket_node(bound)
    assert "." not in node and "e" not in node
    assert float(node.replace("_", ".")) == pytest.approx(bound, rel=1e-5)


def test_sketch_buckets_become_series_named_by_their_bound() -> None:
    flat = flatten({"lat": {"count": 5}}, "app", buckets={"lat": [(1.0, 2), (12.5, 3)], "absent": [(1.0, 1)]})
    assert flat.points == [("app.lat.count", 5), ("app.lat.buckets.1", 2), ("app.lat.buckets.12_5", 3)]


def test_buckets_equal_to_six_digits_share_one_series_and_add_up() -> None:
    flat = flatten({"lat": {}}, "", buckets={"lat": [(1.0000001, 2), (1.0000002, 3)]})
    assert flat.points == [("lat.buckets.1", 5)]


def test_path_length_limit_is_the_names_module_one() -> None:
    name = ".".join(["n" * 200] * ((MAX_KEY_LENGTH // 201) + 1))
    assert flatten({name: {"count": 1}}).rejected == 1


def test_an_int_is_a_point_exactly_when_it_has_a_float() -> None:
    from graphmetrics.readout import POINT_INT_LIMIT

    largest = POINT_INT_LIMIT - 1
    assert float(largest) == float(-largest) * -1 > 1.7e308  # the largest ints still convert...
    with pytest.raises(OverflowError):
        float(POINT_INT_LIMIT)  # ...the limit does not
    flat = flatten({"a": {"count": largest}, "b": {"count": POINT_INT_LIMIT}, "c": {"count": -POINT_INT_LIMIT},
                    "d": {"count": 10**5000, "max": 3}})
    assert flat.points == [("a.count", largest), ("d.max", 3)]
    assert (flat.rejected, flat.refused) == (3, ("b.count", "c.count", "d.count"))


@settings(derandomize=True, max_examples=200)
@given(
    name=st.text(min_size=1, max_size=30),
    tags=st.dictionaries(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8), max_size=3),
    prefix=st.text(max_size=12),
    field=st.text(min_size=1, max_size=12),
)
def test_flattens_inlined_paths_are_series_path(name: str, tags: dict[str, str], prefix: str, field: str) -> None:
    """flatten() assembles paths from the read-out's cached parts (its hot loop); they are exactly
    names.series_path's, and a path series_path refuses is a rejected metric, never a point."""
    for key in (name, _key_or_none(name, tags)):  # a hand-made key (re-checked) and a registry key
        if key is None:
            continue
        try:
            expected = series_path(prefix, key, field)
        except ValueError:
            assert flatten({key: {field: 1}}, prefix)[:2] == ([], 1)
            continue
        assert flatten({key: {field: 1}}, prefix).points == [(expected, 1)]


def _key_or_none(name: str, tags: dict[str, str]) -> str | None:
    try:
        return metric_key(name, tags)
    except ValueError:
        return None
