"""URL rules whose URL builders are compiled when first used.

Werkzeug compiles two URL builders (Python source, then ``compile``) for every rule as it is
added: about two thirds of an application's start-up here, with some 150 rules, for builders
that one process may never call (a test, a worker, a CLI command). A rule of this class keeps
werkzeug's matching as it is and compiles each builder on its first ``url_for``.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule


class LazyBuilderRule(Rule):
    """A werkzeug ``Rule`` that defers compiling its URL builders until one is used."""

    def _compile_builder(self, append_unknown: bool = True) -> Any:
        compile_now = super()._compile_builder
        name = "_build_unknown" if append_unknown else "_build"

        def build_first(rule: Rule, **values: Any) -> tuple[str, str]:
            # Replace this stand-in with the real builder, then build (a race compiles twice,
            # harmlessly).
            real = compile_now(append_unknown).__get__(rule, None)
            setattr(rule, name, real)
            return real(**values)

        return build_first


def lazy_rules_supported() -> bool:
    """Whether this werkzeug builds URLs through ``Rule._compile_builder`` (else the default
    rule class stays)."""
    return callable(getattr(Rule, "_compile_builder", None))
