"""The shape of the code: short modules, short views, private names kept to their module.

ALLOWED_FOR_NOW names the known exceptions, all in modules being reshaped on their own
branches. Strike an entry when its fix lands: a stale entry fails here too, so the list can
only shrink.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import statuspage

PACKAGE = Path(statuspage.__file__).resolve().parent
MODULE_MAX_LINES = 500
VIEW_MAX_LINES = 25  # from the first decorator to the last line of the body
ROUTE_DECORATORS = {"route", "get", "post", "put", "patch", "delete"}
# Underscored by their libraries to stay clear of user names, yet documented as public.
PUBLIC_UNDERSCORED = {"_get_current_object", "_asdict", "_replace", "_make", "_fields"}

LONG_MODULE, LONG_VIEW, PRIVATE_NAME = "long module", "long view", "private name"

ALLOWED_FOR_NOW: set[str] = set()


def is_private(name: str) -> bool:
    """``_name`` is private; ``__dunder__`` names, gettext's ``_`` and PUBLIC_UNDERSCORED
    are not."""
    return (name.startswith("_") and name != "_" and name not in PUBLIC_UNDERSCORED
            and not (name.startswith("__") and name.endswith("__")))


def long_module(where: str, source: str) -> Iterator[str]:
    """The module itself, when it is over MODULE_MAX_LINES lines."""
    if len(source.splitlines()) > MODULE_MAX_LINES:
        yield f"{LONG_MODULE}: {where}"


def _is_route(decorator: ast.expr) -> bool:
    if not isinstance(decorator, ast.Call):
        return False
    func = decorator.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in ROUTE_DECORATORS


def long_views(where: str, tree: ast.Module) -> Iterator[str]:
    """Every function with a route decorator (``@bp.get(...)``, ``@route(...)`` and the
    like) over VIEW_MAX_LINES lines."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not any(map(_is_route, node.decorator_list)):
            continue
        start = min(d.lineno for d in node.decorator_list)
        if node.end_lineno is not None and node.end_lineno - start + 1 > VIEW_MAX_LINES:
            yield f"{LONG_VIEW}: {where}:{node.name}"


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def private_names(where: str, tree: ast.Module) -> Iterator[str]:
    """Every private name this module takes from another: ``from x import _y``, ``import
    x._y``, and ``x._y`` where ``x`` is a name this module imported."""
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                imported.add(alias.asname or alias.name)
                if is_private(alias.name) or any(map(is_private, module.split("."))):
                    yield f"{PRIVATE_NAME}: {where}: from {module} import {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imported.add(alias.asname or alias.name.split(".")[0])
                if any(map(is_private, alias.name.split("."))):
                    yield f"{PRIVATE_NAME}: {where}: import {alias.name}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        dotted = _dotted(node)
        # Every prefix of a chain is a node of its own: x._y.z is reported once, as x._y.
        if dotted and dotted[0] in imported and is_private(dotted[-1]):
            yield f"{PRIVATE_NAME}: {where}: {'.'.join(dotted)}"


def violations_in(where: str, source: str) -> set[str]:
    """What the module at ``where`` (a path like ``statuspage/views/x.py``) breaks."""
    tree = ast.parse(source)
    found = {*long_module(where, source), *private_names(where, tree)}
    if where.startswith("statuspage/views/"):
        found.update(long_views(where, tree))
    return found


@pytest.fixture(scope="module")
def violations() -> set[str]:
    """Everything the package breaks today, allowed or not."""
    found: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE.parent).as_posix()
        found |= violations_in(where, path.read_text(encoding="utf-8"))
    return found


def _new(violations: set[str], kind: str) -> list[str]:
    return sorted(v for v in violations - ALLOWED_FOR_NOW if v.startswith(f"{kind}: "))


def test_no_module_is_longer_than_500_lines(violations: set[str]) -> None:
    assert _new(violations, LONG_MODULE) == []


def test_no_view_is_longer_than_25_lines(violations: set[str]) -> None:
    assert _new(violations, LONG_VIEW) == []


def test_no_module_uses_another_modules_private_names(violations: set[str]) -> None:
    assert _new(violations, PRIVATE_NAME) == []


def test_every_allowed_exception_is_still_needed(violations: set[str]) -> None:
    stale = sorted(ALLOWED_FOR_NOW - violations)
    assert stale == [], "fixed: strike these from ALLOWED_FOR_NOW"


# --- the checks themselves catch what they are for ------------------------------------------------

def _view(lines: int) -> str:
    """A view of exactly ``lines`` lines, decorators included."""
    body = "\n".join(f"    x{i} = {i}" for i in range(lines - 4))
    return ('@bp.route("/x", methods=["GET", "POST"])\n@admin_required\ndef x() -> str:\n'
            f'    """X."""\n{body}\n')


@pytest.mark.parametrize(("where", "source", "expected"), [
    ("statuspage/x.py", "x = 1\n" * 500, set()),
    ("statuspage/x.py", "x = 1\n" * 501, {"long module: statuspage/x.py"}),
    ("statuspage/views/x.py", _view(25), set()),
    ("statuspage/views/x.py", _view(26), {"long view: statuspage/views/x.py:x"}),
    ("statuspage/views/x.py", _view(26).replace("@bp.route", "@route"),
     {"long view: statuspage/views/x.py:x"}),
    ("statuspage/x.py", _view(26), set()),  # views live in views/
    ("statuspage/views/x.py", "def helper():\n" + "    pass\n" * 30, set()),
    ("statuspage/x.py", "from .y import _z\n",
     {"private name: statuspage/x.py: from .y import _z"}),
    ("statuspage/x.py", "from flask_login.utils import _user_context_processor as p\n",
     {"private name: statuspage/x.py: from flask_login.utils import _user_context_processor"}),
    ("statuspage/x.py", "from a._b import c\n",
     {"private name: statuspage/x.py: from a._b import c"}),
    ("statuspage/x.py", "import a._b\n", {"private name: statuspage/x.py: import a._b"}),
    ("statuspage/x.py", "import flask_login\nflask_login.utils._user_context_processor\n",
     {"private name: statuspage/x.py: flask_login.utils._user_context_processor"}),
    ("statuspage/x.py", "from .. import staff\ndef f():\n    return staff._hash_key('k')\n",
     {"private name: statuspage/x.py: staff._hash_key"}),
    ("statuspage/x.py", "from flask import g\ng._login_user = None\nimport a\na._b.c()\n",
     {"private name: statuspage/x.py: g._login_user", "private name: statuspage/x.py: a._b"}),
    ("statuspage/x.py", "from flask import current_app\ncurrent_app._get_current_object()\n",
     set()),
    ("statuspage/x.py", "from .y import z, __version__\nfrom flask_babel import _\n"
                        "def f(form):\n    return form._fields, z.__name__, _('hi')\n", set()),
    ("statuspage/x.py", "class A:\n    def f(self):\n        return self._x\n", set()),
])
def test_the_checks_catch_what_they_are_for(where: str, source: str, expected: set[str]) -> None:
    assert violations_in(where, source) == expected
