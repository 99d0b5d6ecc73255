"""JSON Schema validation for tool parameters and the json-processor tool, with every regular
expression run by RE2.

jsonschema matches `pattern` and `patternProperties` (and `additionalProperties` through them)
with Python's backtracking `re`, which holds the GIL: `^(a+)+$` against 40 "a" and a "!" ran
for minutes and no time limit or interrupt could stop it. Here those keywords use RE2, whose
matching takes time linear in the text, and the `regex` format of the meta-schema check compiles
with RE2, so a pattern RE2 cannot run (backreferences, lookaround) is refused when the schema is
checked, naming the pattern.

The schema is read as JSON Schema 2020-12 throughout. jsonschema hands any subschema that names
a `$schema` (its own or one reached by a `$ref` to an official meta-schema) to its stock
validator, with Python's `re`; so `$schema` and `$id` count only at the top (where they are
dropped), references stay inside the schema (`#...`, which also means nothing is fetched from the
network), and `unevaluatedProperties`, whose jsonschema implementation matches
`patternProperties` with `re`, cannot be combined with `patternProperties`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import re2
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator

MAX_PATTERN_LEN = 1000
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr
_compiled: dict[str, Any] = {}


class SchemaProblem(ValueError):
    """A schema that cannot be used. The message completes "schema ..." ("is not a valid JSON
    Schema: ...", "uses pattern ..."), so each caller can say whose schema it is."""


def compile_pattern(pattern: str) -> Any:
    """`pattern` compiled by RE2 (cached), or SchemaProblem naming it and what is supported."""
    compiled = _compiled.get(pattern)
    if compiled is not None:
        return compiled
    if len(pattern) > MAX_PATTERN_LEN:
        raise SchemaProblem(
            f"uses a pattern of {len(pattern)} characters ({pattern[:40]!r}...); a pattern may "
            f"be at most {MAX_PATTERN_LEN} characters"
        )
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise SchemaProblem(
            f"uses pattern {pattern!r}, which RE2 cannot run ({reason}); patterns run on RE2, "
            "which matches in time linear in the text and has no backreferences (\\1) or "
            "lookaround ((?=...), (?!...), (?<=...), (?<!...))"
        ) from None
    if len(_compiled) < 1024:
        _compiled[pattern] = compiled
    return compiled


def _search(pattern: str, text: str) -> bool:
    return compile_pattern(pattern).search(text) is not None


# --- the keywords that match regular expressions, as jsonschema's own but on RE2 ---------------


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [
        key
        for key in instance
        if key not in properties and not any(_search(p, key) for p in patterns)
    ]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        names = ", ".join(repr(e) for e in sorted(extras, key=str))
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            regexes = ", ".join(repr(p) for p in sorted(patterns))
            yield ValidationError(f"{names} {verb} not match any of the regexes: {regexes}")
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(
                f"Additional properties are not allowed ({names} {verb} unexpected)"
            )


_Re2Validator = validators.extend(
    Draft202012Validator,
    {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    },
)


def _is_re2_pattern(instance: object) -> bool:
    if isinstance(instance, str):
        compile_pattern(instance)
    return True


# The meta-schema check: jsonschema's format checks, with `regex` (every `pattern` and
# `patternProperties` key) compiled by RE2 instead of `re`.
_SCHEMA_FORMATS = FormatChecker(formats=())
_SCHEMA_FORMATS.checkers.update(Draft202012Validator.FORMAT_CHECKER.checkers)
_SCHEMA_FORMATS.checks("regex", raises=SchemaProblem)(_is_re2_pattern)


def compile_schema(schema: Any) -> Validator:
    """A validator for `schema` whose regular expressions run on RE2, or SchemaProblem saying
    what cannot be used (see the module docstring for the rules)."""
    try:
        _Re2Validator.check_schema(schema, format_checker=_SCHEMA_FORMATS)
    except SchemaError as exc:
        if isinstance(exc.cause, SchemaProblem):
            raise exc.cause from None
        raise SchemaProblem(f"is not a valid JSON Schema: {exc.message}") from None
    if isinstance(schema, dict):
        schema = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
        _check_references(schema)
    validator: Validator = _Re2Validator(schema)
    return validator


def _check_references(schema: dict[str, Any]) -> None:
    # Every object below the top, whatever its place: a `$ref` can point anywhere in the schema.
    keywords: set[str] = set()
    for where, node in _objects(schema, ""):
        keywords.update(node)
        for key in ("$schema", "$id"):
            if where and isinstance(node.get(key), str):
                raise SchemaProblem(
                    f"has {key} {node[key]!r} at {where}: {key} may only be at the top of the "
                    "schema, which is read as JSON Schema 2020-12 throughout"
                )
        for key in ("$ref", "$dynamicRef"):
            target = node.get(key)
            if isinstance(target, str) and not target.startswith("#"):
                raise SchemaProblem(
                    f"has {key} {target!r} at {where or '/'}: only references inside the schema "
                    "are supported ('#/$defs/name', '#anchor')"
                )
    if {"unevaluatedProperties", "patternProperties"} <= keywords:
        raise SchemaProblem(
            "combines unevaluatedProperties with patternProperties, which is not supported "
            "(jsonschema would match those patterns with a backtracking matcher); use "
            "additionalProperties"
        )


def _objects(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object in `node` with its JSON pointer, depth first."""
    stack = [(where, node)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            yield where, node
            stack.extend((f"{where}/{_escape(str(k))}", v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((f"{where}/{i}", v) for i, v in enumerate(node))


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
