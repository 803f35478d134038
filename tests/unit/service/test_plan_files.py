"""
Tests for plan files: reading YAML and JSON, digests and problem lines.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onward.domain.plans import PlanKind
from onward.errors import InvalidDefinitionError, Problem
from onward.service.plan_files import (
    detect_format,
    document_digest,
    line_of,
    load_plan_text,
    read_document,
)

PLAN_YAML = """\
# web tier recovery
name: web-tier-dr
kind: replica
params:
  restore_point: {type: datetime, required: false}
before:
  - name: notify
    action: http
    with: {method: POST, url: "https://chat.example/hook"}
groups:
  - name: databases
    parallel: 2
    targets:
      - {name: db1, vars: {ip: 10.0.0.5}}
      - {name: db2, vars: {ip: 10.0.0.6}}
    steps:
      - name: stop replication
        action: shell
        with: {command: "ssh {{ target.vars.ip }} systemctl stop repl"}
        timeout: 5m
        retry: {attempts: 3, backoff: 10s, factor: 2, max_backoff: 2m}
      - name: verify heartbeat
        action: http
        critical: false
procedures:
  failover:
    groups:
      - name: web
        targets: [web1, web2]
        steps:
          - {name: promote, action: noop}
"""


def problems_of(text: str, **options: Any) -> list[Problem]:
    """Return the problems load_plan_text raises for ``text``."""
    with pytest.raises(InvalidDefinitionError) as info:
        load_plan_text(text, **options)
    return list(info.value.problems)


# -- loading -----------------------------------------------------------------------


def test_a_yaml_plan_loads_into_a_plan_and_its_document() -> None:
    """YAML text gives the validated plan and the plain document."""
    plan, document = load_plan_text(PLAN_YAML)

    assert plan.name == "web-tier-dr"
    assert plan.kind is PlanKind.REPLICA
    assert list(plan.procedures) == ["run", "failover"]
    assert document["groups"][0]["targets"][1] == {
        "name": "db2",
        "vars": {"ip": "10.0.0.6"},
    }


def test_a_json_plan_loads_like_the_same_yaml_plan() -> None:
    """The same document written in JSON gives the same plan and document."""
    yaml_plan, yaml_document = load_plan_text(PLAN_YAML)

    json_plan, json_document = load_plan_text(json.dumps(yaml_document, indent=2))

    assert json_plan == yaml_plan
    assert json_document == yaml_document


def test_validation_problems_come_through_from_parse_plan() -> None:
    """A syntactically valid text with plan mistakes reports them with paths."""
    text = "name: p\ngroups:\n  - name: g\n    targets: [a]\n    steps: [{name: s}]\n"

    actual = problems_of(text)

    assert actual == [
        Problem("groups[0].steps[0].action", "missing required key 'action'")
    ]


def test_dates_in_yaml_stay_text() -> None:
    """YAML dates are not turned into date objects, so the document stays JSON."""
    text = PLAN_YAML.replace(
        "{type: datetime, required: false}", "{type: datetime, default: 2024-05-01}"
    )

    _, document = load_plan_text(text)

    assert document["params"]["restore_point"]["default"] == "2024-05-01"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "p"}', "json"),
        ('\ufeff  \n {"name": "p"}', "json"),
        ("name: p", "yaml"),
        ("[1, 2]", "yaml"),
        ("", "yaml"),
    ],
)
def test_the_format_is_guessed_from_the_first_character(
    text: str, expected: str
) -> None:
    """Text starting with ``{`` is JSON, anything else YAML."""
    actual = detect_format(text)

    assert actual == expected


@pytest.mark.parametrize(
    ("given", "expected"), [("yaml", "yaml"), ("YML", "yaml"), ("json", "json")]
)
def test_a_given_format_is_normalised(given: str, expected: str) -> None:
    """Format names are case-insensitive and ``yml`` means YAML."""
    actual = detect_format("{}", given)

    assert actual == expected


def test_an_unknown_format_is_refused() -> None:
    """Only yaml and json are formats."""
    with pytest.raises(ValueError, match="unknown plan format 'toml'"):
        load_plan_text("name = 'p'", format="toml")


def test_a_given_format_wins_over_the_guess() -> None:
    """JSON-looking text read as YAML is parsed by the YAML parser (a superset)."""
    document = read_document('{"name": "p", "before": []}', format="yaml")

    assert document == {"name": "p", "before": []}


# -- syntax errors -----------------------------------------------------------------


def test_a_yaml_syntax_error_names_its_line_and_column() -> None:
    """A YAML syntax error becomes one problem, at no path, naming the place."""
    text = "name: p\ngroups:\n  - name: [g\n    targets: x\n"

    actual = problems_of(text, source="plan.yaml")

    assert len(actual) == 1
    assert actual[0].path == ""
    assert re.match(
        r"plan\.yaml: invalid YAML at line \d+, column \d+: ", actual[0].message
    )


def test_a_yaml_syntax_error_points_at_the_faulty_line() -> None:
    """The line number reported is the one holding the mistake."""
    text = "name: p\nkind: replica\nbefore: [a, b\nafter: []\n"

    actual = problems_of(text)[0].message

    assert "line 4, column " in actual


def test_a_json_syntax_error_names_its_line_and_column() -> None:
    """A JSON syntax error becomes one problem naming line and column."""
    text = '{\n  "name": "p",\n  "groups": [,]\n}'

    actual = problems_of(text)

    assert actual == [
        Problem("", "<plan>: invalid JSON at line 3, column 14: Expecting value")
    ]


def test_a_yaml_character_error_names_its_line_and_column() -> None:
    """Control characters are refused with their position."""
    text = "name: p\ndescription: bell \x07 here\n"

    actual = problems_of(text)[0].message

    assert "invalid character at line 2, column 19" in actual


def test_duplicate_yaml_keys_are_refused_with_their_line() -> None:
    """A key written twice in one YAML mapping is an error, not a silent override."""
    text = "name: p\nbefore:\n  - name: s\n    action: noop\n    name: t\n"

    actual = problems_of(text)[0].message

    assert actual == "<plan>: invalid YAML at line 5, column 5: duplicate key 'name'"


def test_yaml_merge_keys_may_override_merged_values() -> None:
    """Merge keys (``<<``) still work and their keys may be overridden."""
    text = (
        "name: p\n"
        "before:\n"
        "  - &base {name: s, action: noop, critical: false}\n"
        "  - {<<: *base, name: t}\n"
    )

    plan, _ = load_plan_text(text)

    assert [(s.name, s.critical) for s in plan.procedures["run"].before] == [
        ("s", False),
        ("t", False),
    ]


def test_duplicate_json_keys_are_refused() -> None:
    """A key written twice in one JSON object is an error."""
    actual = problems_of('{"name": "p", "name": "q"}')

    assert actual == [Problem("", "<plan>: invalid JSON: duplicate key 'name'")]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_non_numbers_are_refused(constant: str) -> None:
    """NaN and the infinities are not JSON and cannot be stored."""
    actual = problems_of(f'{{"name": "p", "x": {constant}}}')

    assert actual == [
        Problem("", f"<plan>: invalid JSON: {constant} is not a valid JSON number")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "<plan> is empty: a plan is a mapping with at least a name"),
        (
            "# only a comment\n",
            "<plan> is empty: a plan is a mapping with at least a name",
        ),
        ("- a\n- b\n", "<plan>: expected a mapping at the top of the plan, got list"),
        ("just text", "<plan>: expected a mapping at the top of the plan, got string"),
        ("42", "<plan>: expected a mapping at the top of the plan, got integer"),
    ],
)
def test_a_document_that_is_not_a_mapping_is_a_problem(text: str, message: str) -> None:
    """Empty texts and texts holding a list or a scalar are not plans."""
    actual = problems_of(text)

    assert actual == [Problem("", message)]


def test_several_yaml_documents_are_refused() -> None:
    """A plan file holds a single YAML document."""
    actual = problems_of("name: a\n---\nname: b\n")[0].message

    assert "line 2, column 1" in actual


def test_unsafe_yaml_tags_are_refused() -> None:
    """Python object tags are not constructed."""
    actual = problems_of("name: !!python/object/apply:os.system ['true']\n")[0]

    assert actual.path == ""
    assert "line 1, column 7" in actual.message


def test_an_alias_bomb_is_refused() -> None:
    """Aliases that expand into millions of values are refused."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    text = "name: p\nwith:\n" + "\n".join(f"  {line}" for line in lines) + "\n"

    actual = problems_of(text)

    assert len(actual) == 1
    assert "more than 1000000 values" in actual[0].message


def test_a_recursive_alias_is_refused() -> None:
    """An alias that refers to its own node cannot be stored as JSON."""
    actual = problems_of("name: p\nbefore: &loop [*loop]\n")

    assert "refers to itself" in actual[0].message


def test_very_deep_nesting_is_refused() -> None:
    """Nesting deep enough to exhaust the parser is reported, not a crash."""
    text = "name: p\nx: " + "[" * 100_000 + "]" * 100_000 + "\n"

    actual = problems_of(text)

    assert actual == [
        Problem("", "<plan>: lists and mappings are nested more than 64 deep")
    ]


def test_line_of_gives_up_on_very_deep_nesting() -> None:
    """Locating a path in absurdly nested text returns None instead of crashing."""
    text = "name: p\nx: " + "[" * 100_000 + "]" * 100_000 + "\n"

    actual = line_of(text, "x[0]")

    assert actual is None


def test_very_deep_json_nesting_is_refused() -> None:
    """Deep JSON nesting is reported, not a crash."""
    text = '{"name": "p", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"

    actual = problems_of(text)

    assert actual == [Problem("", "<plan>: the document is nested too deeply")]


# -- digests -------------------------------------------------------------------------


def test_the_digest_ignores_layout_comments_key_order_and_format() -> None:
    """Texts that differ only in spelling have the same digest."""
    _, from_yaml = load_plan_text(PLAN_YAML)
    reordered = dict(reversed(list(from_yaml.items())))
    _, from_json = load_plan_text(json.dumps(reordered))

    assert document_digest(from_yaml) == document_digest(from_json)


def test_the_digest_changes_when_the_document_changes() -> None:
    """Any change of content makes a different digest."""
    _, document = load_plan_text(PLAN_YAML)
    changed = {**document, "description": "changed"}

    assert document_digest(changed) != document_digest(document)


def test_the_digest_is_a_sha256_hex_string() -> None:
    """The digest is 64 lower-case hexadecimal characters."""
    actual = document_digest({"name": "p"})

    assert re.fullmatch(r"[0-9a-f]{64}", actual)


@given(
    st.dictionaries(
        st.text(max_size=5),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(st.text(max_size=5), children, max_size=3)
            ),
            max_leaves=10,
        ),
        max_size=5,
    )
)
def test_the_digest_does_not_depend_on_key_order(document: dict[str, Any]) -> None:
    """Reversing the key order of a document keeps its digest."""
    reordered = dict(reversed(list(document.items())))

    assert document_digest(reordered) == document_digest(document)


# -- lines -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("name", 2),
        ("kind", 3),
        ("params.restore_point.type", 5),
        ("before[0]", 7),
        ("before[0].with.url", 9),
        ("groups[0].parallel", 12),
        ("groups[0].targets[1].name", 15),
        ("groups[0].targets[1].vars.ip", 15),
        ("groups[0].steps[0].timeout", 20),
        ("groups[0].steps[0].retry.max_backoff", 21),
        ("groups[0].steps[1]", 22),
        ("groups[0].steps[1].critical", 24),
        ("procedures.failover.groups[0].targets[1]", 29),
        ("procedures.failover.groups[0].steps[0].name", 31),
    ],
)
def test_line_of_finds_the_line_of_a_problem_path(path: str, line: int) -> None:
    """Paths map to the line of the key or item they name."""
    actual = line_of(PLAN_YAML, path)

    assert actual == line


def test_line_of_falls_back_to_the_deepest_part_found() -> None:
    """A missing key is placed on the line of the mapping that lacks it."""
    actual = line_of(PLAN_YAML, "groups[0].steps[1].retry.attempts")

    assert actual == 22


def test_line_of_finds_an_unknown_key_on_its_own_line() -> None:
    """An unknown-key problem's path leads to the misspelt key itself."""
    text = "name: p\nbefore:\n  - name: s\n    action: noop\n    timout: 5m\n"
    problems = problems_of(text)

    actual = [line_of(text, problem.path) for problem in problems]

    assert actual == [5]


def test_line_of_follows_merge_keys() -> None:
    """A key that comes from a merged mapping is found where it is written."""
    text = "base: &b\n  action: noop\nname: p\nstep:\n  <<: *b\n  name: s\n"

    actual = line_of(text, "step.action")

    assert actual == 2


def test_line_of_follows_a_list_of_merged_mappings() -> None:
    """Keys merged from a list of mappings are found in the one holding them."""
    text = "a: &a {x: 1}\nb: &b {y: 2}\nname: p\nc:\n  <<: [*a, *b]\n"

    actual = line_of(text, "c.y")

    assert actual == 2


def test_line_of_survives_a_mapping_merged_into_itself() -> None:
    """A self-referring merge key does not send the search round in circles."""
    text = "name: p\na: &a {<<: *a, b: 1}\n"

    actual = line_of(text, "a.missing")

    assert actual == 2


def test_line_of_works_on_json_text() -> None:
    """JSON is YAML enough for locating paths."""
    text = '{\n  "name": "p",\n  "groups": [\n    {"name": "g"}\n  ]\n}'

    actual = line_of(text, "groups[0].name")

    assert actual == 4


@pytest.mark.parametrize(
    ("text", "path"),
    [(PLAN_YAML, ""), ("name: [", "name"), ("", "name")],
)
def test_line_of_returns_none_when_there_is_nothing_to_point_at(
    text: str, path: str
) -> None:
    """An empty path, unparsable text or an empty text have no line."""
    actual = line_of(text, path)

    assert actual is None


def test_line_of_an_index_beyond_the_list_is_the_list_line() -> None:
    """An index past the end falls back to the line of the key holding the list."""
    actual = line_of(PLAN_YAML, "before[5].name")

    assert actual == 6
