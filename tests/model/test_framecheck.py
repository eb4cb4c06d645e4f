"""The frame checker: msgspec (when installed) and orjson must agree on every frame."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from binstream import framecheck
from binstream.framecheck import FrameShape, _check_with_orjson, _msgspec_checkers, decode_frame

_checkers = _msgspec_checkers()
msgspec_check = _checkers[0] if _checkers else None
needs_msgspec = pytest.mark.skipif(msgspec_check is None, reason="msgspec not installed")

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | text
scalars |= st.floats(allow_nan=False, allow_infinity=False)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["e", "id", "stream", "data", "x"]) | text, inner, max_size=4
        )
    ),
    max_leaves=12,
)

FRAMES: dict[str, FrameShape] = {
    '{"stream":"bnbbtc@trade","data":{"e":"trade"}}': ("object", False, False, "bnbbtc@trade"),
    '{"result":null,"id":1}': ("object", True, False, None),
    '{"e":"serverShutdown","E":1}': ("object", False, True, None),
    '{"e":{"nested":1},"stream":5}': ("object", False, False, None),
    "[1,2]": ("array", False, False, None),
    "42": ("scalar", False, False, None),
    '"text"': ("scalar", False, False, None),
}
NOT_JSON = ["this is not JSON {", '{"a":', "", "NaN", '{"a":1} x', "{'a': 1}", '{"a":1}{']


@pytest.mark.parametrize("frame", FRAMES)
def test_shapes(frame: str) -> None:
    assert framecheck.check_frame(frame) == FRAMES[frame]
    assert _check_with_orjson(frame) == FRAMES[frame]


@pytest.mark.parametrize("frame", [f for f in FRAMES if f.startswith("{")])
def test_shapes_of_long_frames(frame: str) -> None:
    long_frame = '{"pad":"' + "p" * 1000 + '",' + frame[1:]
    assert framecheck.check_frame(long_frame) == FRAMES[frame]
    assert _check_with_orjson(long_frame) == FRAMES[frame]


@pytest.mark.parametrize("frame", NOT_JSON)
def test_not_json_is_a_value_error(frame: str) -> None:
    with pytest.raises(ValueError):
        framecheck.check_frame(frame)
    with pytest.raises(ValueError):
        _check_with_orjson(frame)


@needs_msgspec
@given(values)
def test_msgspec_and_orjson_agree_on_json(value: object) -> None:
    assert msgspec_check is not None
    frame = orjson.dumps(value).decode()
    assert msgspec_check(frame) == _check_with_orjson(frame)


@needs_msgspec
@given(
    st.dictionaries(st.sampled_from(["e", "id", "stream", "data", "x"]) | text, values, max_size=4),
    st.integers(0, 1200),
)
def test_msgspec_and_orjson_agree_on_long_frames(value: dict[str, object], pad: int) -> None:
    """Long frames (depth20 and the like): the keys are found after a long skipped value."""
    assert msgspec_check is not None
    frame = orjson.dumps({"pad": "p" * pad, **value}).decode()
    assert msgspec_check(frame) == _check_with_orjson(frame)


@needs_msgspec
@given(values, st.integers(0, 40))
def test_msgspec_and_orjson_agree_on_truncated_json(value: object, cut: int) -> None:
    assert msgspec_check is not None
    frame = orjson.dumps(value).decode()[: -cut or None]
    results = []
    for check in (msgspec_check, _check_with_orjson):
        try:
            results.append(check(frame))
        except ValueError:
            results.append("invalid")
    assert results[0] == results[1], frame


def _plain(shape: FrameShape) -> bool:
    kind, has_id, shutdown, _ = shape
    return kind == "array" or (kind == "object" and not has_id and not shutdown)


@given(values, st.integers(0, 1200))
def test_plain_frame_answers_what_the_full_check_would(value: object, pad: int) -> None:
    """The one-question check of a raw connection's frames (short and long) agrees with
    the full shape on every JSON document."""
    for frame in (
        orjson.dumps(value).decode(),
        orjson.dumps({"pad": "p" * pad, "v": value}).decode(),
    ):
        assert framecheck.plain_frame(frame) == _plain(_check_with_orjson(frame))


@pytest.mark.parametrize("frame", [*FRAMES, '{"id":1,"pad":"' + "p" * 1000 + '"}'])
def test_plain_frame_on_known_frames(frame: str) -> None:
    assert framecheck.plain_frame(frame) == _plain(_check_with_orjson(frame))


@pytest.mark.parametrize("frame", NOT_JSON)
def test_plain_frame_rejects_what_is_not_json(frame: str) -> None:
    with pytest.raises(ValueError):
        framecheck.plain_frame(frame)


@needs_msgspec
def test_a_number_beyond_a_double_passes_where_jq_would_read_it() -> None:
    """JSON's grammar allows ``1e999``: the check lets it through in a key it does not
    route on, and a decoding consumer gets ``inf`` (as Python's json module gives)."""
    frame = '{"e":"trade","p":1e999}'
    assert framecheck.plain_frame(frame) is True
    assert framecheck.check_frame(frame) == ("object", False, False, None)
    assert decode_frame(frame) == {"e": "trade", "p": float("inf")}
    with pytest.raises(ValueError):  # in a key it routes on, it is refused, as orjson does
        framecheck.check_frame('{"id":1e999}')
