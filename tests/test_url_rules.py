"""URL rules compile their builders on first use, and build exactly what werkzeug builds."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Map, Rule

from statuspage.views.rules import LazyBuilderRule

SAMPLES = {"integer": 7, "path": "a/b c", "unicode": "x y"}


def _values(rule: Rule) -> dict[str, Any]:
    kinds = {name: type(converter).__name__.removesuffix("Converter").lower()
             for name, converter in rule._converters.items()}
    return {name: SAMPLES.get(kind, "v") for name, kind in kinds.items()}


def test_every_rule_builds_the_url_werkzeug_would(app: Any) -> None:
    rules = list(app.url_map.iter_rules())
    # All but Flask's own static rule, which it adds before any configuration.
    assert len(rules) > 100
    assert [r.endpoint for r in rules if not isinstance(r, LazyBuilderRule)] == ["static"]
    for rule in rules:
        twin = Rule(rule.rule, endpoint=rule.endpoint, methods=rule.methods,
                    defaults=rule.defaults)
        Map([twin], converters=app.url_map.converters)
        values = _values(rule)
        assert rule.build(values) == twin.build(values), rule.rule
        # With a value the rule does not name: werkzeug's second builder, the query string.
        extra = {**values, "page": "2"}
        assert rule.build(extra, append_unknown=True) == twin.build(extra, append_unknown=True)


def test_a_builder_is_compiled_on_first_use_only(app: Any) -> None:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "public.incident")
    fresh = LazyBuilderRule(rule.rule, endpoint="fresh")
    Map([fresh], converters=app.url_map.converters)
    assert fresh._build.__name__ == fresh._build_unknown.__name__ == "build_first"

    assert fresh.build({"incident_id": 3}, append_unknown=False) == ("", "/incidents/3")

    assert fresh._build.__name__ != "build_first"  # the real builder took its place
    assert fresh._build_unknown.__name__ == "build_first"  # not needed yet
    assert fresh.build({"incident_id": 4}, append_unknown=False) == ("", "/incidents/4")
