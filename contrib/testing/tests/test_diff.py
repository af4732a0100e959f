from __future__ import annotations

from omniwire.model import CacheHint, Message, Request, Role, TextPart, Tool
from omniwire_testing.diff import covered, diff, is_addition, is_prefix, prune_lost


def test_paths_name_the_field():
    a = Request(
        "m",
        (Message.text(Role.USER, "hi"), Message(Role.USER, (TextPart("x", cache=CacheHint()),))),
        top_k=3,
    )
    b = Request("m", (Message.text(Role.USER, "hi"), Message(Role.USER, (TextPart("x"),))))
    assert [d.path for d in diff(a, b)] == ["$.messages[1].content[0].cache", "$.top_k"]
    assert diff(a, a) == []


def test_mappings_and_json_keys():
    a = Request(
        "m", tools=(Tool("t", parameters={"type": "object", "a b": 1}),), metadata={"k": "v"}
    )
    b = Request(
        "m", tools=(Tool("t", parameters={"type": "object"}),), metadata={"k": "w", "n": "x"}
    )
    found = {(d.path, d.kind) for d in diff(a, b)}
    assert found == {
        ('$.tools[0].parameters["a b"]', "removed"),
        ("$.metadata.k", "changed"),
        ("$.metadata.n", "added"),
    }


def test_a_dropped_message_is_reported_once():
    m = [Message.text(Role.USER, str(i)) for i in range(4)]
    a, b = Request("m", tuple(m)), Request("m", (m[0], m[2], m[3]))
    assert [(d.path, d.kind) for d in diff(a, b)] == [("$.messages[1]", "removed")]
    assert [(d.path, d.kind) for d in diff(b, a)] == [("$.messages[1]", "added")]


def test_bool_is_not_an_int():
    assert diff({"x": True}, {"x": 1})
    assert not diff({"x": 1}, {"x": 1.0})


def test_prefixes_are_component_wise():
    assert is_prefix("$.messages[1]", "$.messages[1].content[0]")
    assert is_prefix("$.top_k", "$.top_k")
    assert not is_prefix("$.top", "$.top_k")
    assert not is_prefix("$.messages[1]", "$.messages[10]")
    assert is_prefix("$", "$.anything")
    assert covered("$.messages[1].content[0].cache", ["$.messages[1]"])
    assert covered("$.messages[1]", ["$.messages[1].content[0].cache"])  # and vice versa
    assert not covered("$.top_k", ["$.top_p"])


def test_prune_lost_removes_reported_elements_and_renumbers():
    m = [Message.text(Role.USER, str(i)) for i in range(4)]
    parts = (TextPart("a"), TextPart("b"), TextPart("c", cache=CacheHint()))
    request = Request("m", (m[0], m[1], Message(Role.USER, parts), m[3]))
    losses = [
        "$.messages[1]",
        "$.messages[2].content[0]",
        "$.messages[2].content[2].cache",
        "$.top_k",
    ]
    pruned, paths = prune_lost(request, losses)
    assert pruned.messages == (m[0], Message(Role.USER, parts[1:]), m[3])
    assert "$.messages[1].content[1].cache" in paths and "$.top_k" in paths
    assert prune_lost(request, ["$.top_k", "nonsense", "$.messages[9]"])[0] is request


def test_additions():
    a = Request("m", (Message.text(Role.USER, "hi"),))
    b = Request("m", (Message.text(Role.USER, "hi"),), seed=3, metadata={"k": "v"})
    assert all(is_addition(d) for d in diff(a, b))
    assert not any(is_addition(d) for d in diff(b, a))
