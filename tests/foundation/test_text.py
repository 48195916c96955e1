"""The string types of every inbound body (dyade.contracts.text) and the events' own check (envelope)."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import orjson
import pytest
from hypothesis import given, settings, strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dyade.contracts import EventError, decode
from dyade.contracts.calls import CallPayload, CallReceived, Location
from dyade.contracts.text import (Line, OptLine, OptText, Text, find_bad_text, json_may_hold_bad_text, line_problem,
                                  text_problem)


class Sample(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    name: Line = Field(max_length=20)
    alias: OptLine = Field(None, max_length=20)
    note: Text = Field("", max_length=50)
    remark: OptText = Field(None, max_length=50)
    ids: list[Line] = Field(default_factory=list)


REFUSED_EVERYWHERE = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f",
                      "\ud800", "\udfff", "\ufffe", "\uffff"]
REFUSED_IN_LINES = ["\t", "\n", "\r", "\u2028", "\u2029"]
ALLOWED = ["é", "«»", "’", "\u00a0", "😀", "\u200b", "\ufeff", "中文", "\ufffd"]


def refusal(field: str, value: str) -> dict:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate({"name": "ok", field: value})
    [err] = caught.value.errors()
    return err


@pytest.mark.parametrize("field", ["name", "alias", "note", "remark"])
@pytest.mark.parametrize("char", REFUSED_EVERYWHERE)
def test_control_characters_surrogates_and_non_characters_are_refused_naming_code_and_position(field, char):
    err = refusal(field, "ab" + char + "cd")
    assert err["loc"] == (field,) and err["type"] == "texte_interdit"
    assert f"(U+{ord(char):04X}) à la position 3" in err["msg"] and "interdit" in err["msg"]
    assert "Value error" not in err["msg"] and "ab" not in err["msg"]  # the text itself is never quoted


def test_the_message_says_what_is_refused_in_french():
    assert line_problem("ab\x00") == "caractère de contrôle interdit (U+0000) à la position 3"
    assert line_problem("a\tb") == "caractère de contrôle interdit (U+0009) à la position 2 (une seule ligne attendue)"
    assert text_problem("\ud800") == "demi-caractère UTF-16 (surrogate) isolé interdit (U+D800) à la position 1"
    assert text_problem("x\uffff") == "non-caractère Unicode interdit (U+FFFF) à la position 2"
    assert line_problem("a\u2028") == "séparateur de ligne interdit (U+2028) à la position 2 (une seule ligne attendue)"
    assert line_problem("Jean-François Tremblay") is None and text_problem("ligne 1\nligne 2\tfin\r\n") is None


@pytest.mark.parametrize("char", REFUSED_IN_LINES)
def test_tab_and_line_breaks_are_refused_in_lines_and_kept_in_free_text(char):
    assert refusal("name", "a" + char + "b")["loc"] == ("name",)
    assert refusal("alias", "a" + char + "b")["loc"] == ("alias",)
    s = Sample(name="ok", note="a" + char + "b", remark="a" + char + "b")  # free text: line breaks are text
    assert s.note == s.remark == "a" + char + "b"


@pytest.mark.parametrize("text", ALLOWED)
def test_ordinary_unicode_passes(text):
    text = f"a{text}b"  # inside a word: the trimming of surrounding whitespace does not apply
    s = Sample(name=text, alias=text, note=text, remark=text, ids=[text])
    assert (s.name, s.alias, s.note, s.remark, s.ids) == (text, text, text, text, [text])


def test_list_items_are_named_by_index_and_trimming_comes_first():
    with pytest.raises(ValidationError) as caught:
        Sample(name="ok", ids=["a", "b\x00"])
    assert [e["loc"] for e in caught.value.errors()] == [("ids", 1)]
    assert Sample(name="  Tremblay\n", note="  a\nb  ").model_dump(include={"name", "note"}) == \
        {"name": "Tremblay", "note": "a\nb"}  # surrounding whitespace is trimmed, not refused


def test_optional_types_keep_none_and_pydantics_own_length_messages():
    assert Sample(name="ok").alias is None and Sample(name="ok", remark=None).remark is None
    with pytest.raises(ValidationError) as caught:
        Sample(name="x" * 21, alias="y" * 21, remark="z" * 51)
    assert {e["type"] for e in caught.value.errors()} == {"string_too_long"}
    schema = Sample.model_json_schema()["properties"]
    assert schema["alias"]["anyOf"][0] == {"maxLength": 20, "type": "string"}
    assert schema["name"]["maxLength"] == 20


def test_non_strings_are_left_to_pydantic():
    with pytest.raises(ValidationError) as caught:
        Sample(name=12)
    assert caught.value.errors()[0]["type"] == "string_type"


# --- the events' check: on JSON bytes, exact when a byte pattern says it may fail --------------------------

@pytest.mark.parametrize("char", REFUSED_EVERYWHERE)
@pytest.mark.parametrize("dumps", [orjson.dumps, lambda v: json.dumps(v).encode(),
                                   lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")])
def test_json_bytes_with_a_refused_character_are_always_suspect(char, dumps):
    if "\ud800" <= char <= "\udfff" and dumps is orjson.dumps:
        return  # orjson cannot write a lone surrogate at all
    raw = dumps({"payload": {"summary": "avant" + char + "après"}})
    if b"\xed" in raw:  # a surrogate as raw bytes is not UTF-8: refused as JSON before any text check
        with pytest.raises(EventError, match="JSON invalide"):
            decode(raw)
        return
    assert json_may_hold_bad_text(raw)


@pytest.mark.parametrize("text", ['Il dit "non".\nPuis part.\tFin', "C:\\bin\\foo", "« » ’ é à ç", "\\u0000 écrit"])
def test_ordinary_json_from_orjson_is_not_suspect(text):
    assert not json_may_hold_bad_text(orjson.dumps({"summary": text}))


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.text(), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                            max_size=3), max_leaves=8))
def test_the_byte_test_never_misses_what_the_exact_check_finds(tree):
    try:
        raw = orjson.dumps(tree)
    except orjson.JSONEncodeError:  # a lone surrogate: orjson refuses it, so does encode()
        return
    if find_bad_text(tree) is not None:
        assert json_may_hold_bad_text(raw)


def test_find_bad_text_names_the_path():
    assert find_bad_text({"payload": {"persons": [{"role": "ok"}, {"role": "a\x00"}]}}) == \
        ("payload.persons.1.role", "caractère de contrôle interdit (U+0000) à la position 2")
    assert find_bad_text({"payload": {"note": "a\nb\tc"}}) is None


def call_event(**location) -> CallReceived:
    payload = CallPayload(call_id="C-1", nature_code="EMP", category="autre",
                          location=Location(location_key="l_1", **location), summary="ligne\nsuivante")
    return CallReceived.new(payload=payload, occurred_at=datetime.now(timezone.utc), source="intake",
                            correlation_id="C-1")


def test_no_event_with_a_control_character_is_written():
    assert decode(call_event(sector="S1").to_bytes()).payload.summary == "ligne\nsuivante"
    with pytest.raises(EventError) as caught:
        call_event(sector="S\x001").to_bytes()
    assert caught.value.reason == "call.received: payload.location.sector: caractère de contrôle interdit (U+0000) " \
                                  "à la position 2"
    with pytest.raises(EventError):
        call_event(address="\ud800").to_bytes()


@pytest.mark.parametrize("value", ["\\u0000", "\\u001b", "\\b", "\\u007f", "\\ud800", "\x7f", "\u0085", "\uffff"])
def test_an_event_read_with_a_control_character_is_an_event_error(value):
    good = orjson.loads(call_event(sector="S1").to_bytes())
    raw = orjson.dumps(good).replace(b'"S1"', b'"S' + value.encode("utf-8", "surrogatepass") + b'1"')
    with pytest.raises(EventError) as caught:
        decode(raw)
    assert "payload.location.sector" in caught.value.reason or "JSON invalide" in caught.value.reason
    assert str(uuid.UUID(good["event_id"]))  # the envelope itself was fine
