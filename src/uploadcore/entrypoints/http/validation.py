"""Decoding a JSON value into a request model, with every problem of every field named.

msgspec checks types and bounds in one C pass but stops at the first problem.
So a valid body costs that one pass (and the field rules below); only a body
that fails walks the model again, field by field, to name each problem at its
own path (`file_size`, `parts[2].part_number`). The walk asks msgspec itself
whether a value fits, so the two never disagree about what is valid; msgspec's
type information only words the message. A list is checked half by half, each
half in one C pass, so its bad items are found without a Python step per item,
and the walk stops once it has more problems than an answer names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import islice
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import msgspec
import msgspec.inspect as mi

from uploadcore.domain.errors import FieldError, InvalidInput

MAX_FIELD_ERRORS = 20  # field errors named in one answer

S = TypeVar("S", bound=msgspec.Struct)
Unknown = Callable[[str], str]


@dataclass(frozen=True)
class Rule:
    """A domain check a model's own text field must also pass, once its type is right.

    Put it in the field's `Annotated[...]` (not inside a list: items are checked
    by msgspec alone). `check` raises InvalidInput, whose message becomes the field's.
    """

    check: Callable[[str], object]


def decode(model: type[S], data: Any, unknown: Unknown | None = None) -> S:
    """`data` (parsed JSON) as `model`; InvalidInput naming every problem otherwise.

    `unknown` words the message for a field the model does not have.
    """
    try:
        value = msgspec.convert(data, model)
    except (msgspec.ValidationError, UnicodeEncodeError):  # a lone surrogate in a key
        pass
    else:
        if _follows_rules(model, value):
            return value
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    problems = _object_problems(model, data, "", unknown or _unknown)
    raise invalid_fields(list(islice(problems, MAX_FIELD_ERRORS + 1)))


def invalid_fields(errors: list[FieldError], what: str = "fields") -> InvalidInput:
    """One InvalidInput for these field errors: the first few named, then `and more`.

    A body of 10**5 bad fields must not earn a 20 MB answer, nor take seconds to list.
    """
    shown = errors[:MAX_FIELD_ERRORS]
    names = ", ".join(dict.fromkeys(e.field for e in shown))
    if len(errors) > len(shown):
        names += " and more"
    return InvalidInput(f"invalid {what}: {names}", errors=tuple(shown))


def _unknown(name: str) -> str:
    return "is not a known field"


# -- the walk --------------------------------------------------------------------


def _object_problems(
    model: type[msgspec.Struct], data: dict[str, Any], path: str, unknown: Unknown
) -> Iterator[FieldError]:
    fields = msgspec.structs.fields(model)
    known = {f.encode_name for f in fields}
    for name in sorted(k for k in data if k not in known):
        yield FieldError(_at(path, name), unknown(name))
    for field in fields:
        where = _at(path, field.encode_name)
        if field.encode_name in data:
            yield from _problems(field.type, data[field.encode_name], where, unknown)
        elif field.required:
            yield FieldError(where, f"is required and must be {_kinds(_info(field.type))}")


def _problems(tp: Any, value: Any, path: str, unknown: Unknown) -> Iterator[FieldError]:
    struct, item = _shapes(tp)
    if struct is not None and isinstance(value, dict):
        yield from _object_problems(struct, value, path, unknown)
    elif item is not None and type(value) is list:
        yield from _item_problems(item, value, 0, path, unknown)
    elif not _fits(tp, value):
        yield FieldError(path, _explain(_info(tp), value))
    else:
        rule = _rule(tp)
        if rule is not None and isinstance(value, str):
            yield from _broken(rule, value, path)


def _item_problems(
    item: Any, items: list[Any], start: int, path: str, unknown: Unknown
) -> Iterator[FieldError]:
    """The problems of `items[start:]`' elements: halves that fit whole are not walked."""
    if _fits(list[item], items):
        return
    if len(items) == 1:
        yield from _problems(item, items[0], f"{path}[{start}]", unknown)
        return
    half = len(items) // 2
    yield from _item_problems(item, items[:half], start, path, unknown)
    yield from _item_problems(item, items[half:], start + half, path, unknown)


def _fits(tp: Any, value: Any) -> bool:
    try:
        msgspec.convert(value, tp)
    except (msgspec.ValidationError, UnicodeEncodeError):
        return False
    return True


def _follows_rules(model: type[msgspec.Struct], value: msgspec.Struct) -> bool:
    """True when the decoded model's text fields pass their rules (the walk words why not)."""
    for name, rule in _rules(model):
        text = getattr(value, name)
        if isinstance(text, str):
            try:
                rule.check(text)
            except InvalidInput:
                return False
    return True


def _broken(rule: Rule, value: str, path: str) -> Iterator[FieldError]:
    try:
        rule.check(value)
    except InvalidInput as error:
        yield FieldError(path, error.errors[0].message if error.errors else error.detail)


@cache
def _rules(model: type[msgspec.Struct]) -> tuple[tuple[str, Rule], ...]:
    found = ((f.name, _rule(f.type)) for f in msgspec.structs.fields(model))
    return tuple((name, rule) for name, rule in found if rule is not None)


@cache
def _rule(tp: Any) -> Rule | None:
    """The Rule of a field's type, or of its one text member (`Text | int | None`)."""
    if get_origin(tp) is Annotated:  # nested Annotated types are flattened into one
        found = next((m for m in tp.__metadata__ if isinstance(m, Rule)), None)
        return found or _rule(get_args(tp)[0])
    if _is_union(tp):
        return next((r for r in map(_rule, get_args(tp)) if r is not None), None)
    return None


@cache
def _shapes(tp: Any) -> tuple[Any, Any]:
    """The model a type takes as an object, and the item type it takes as a list, if any."""
    members = _members(tp)
    struct = next(
        (m for m in members if isinstance(m, type) and issubclass(m, msgspec.Struct)), None
    )
    item = next((get_args(m)[0] for m in members if get_origin(m) is list), None)
    return struct, item


def _members(tp: Any) -> tuple[Any, ...]:
    """The alternatives of a type, each without its Annotated wrapper."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if _is_union(tp):
        return tuple(m for a in get_args(tp) for m in _members(a))
    return (tp,)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, UnionType)


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- the words ---------------------------------------------------------------------


@cache
def _info(tp: Any) -> mi.Type:
    return mi.type_info(tp)


def _alternatives(info: mi.Type) -> tuple[mi.Type, ...]:
    while isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.UnionType):
        return tuple(a for t in info.types for a in _alternatives(t))
    return (info,)


def _explain(info: mi.Type, value: Any) -> str:
    """Why `value` does not fit: the bound it misses, or the kinds of value that would."""
    for kind in _alternatives(info):
        if isinstance(kind, mi.IntType) and type(value) is int:
            return _int_bounds(kind, value)
        if isinstance(kind, mi.StrType) and isinstance(value, str):
            return (
                f"must be {kind.min_length or 0} to {kind.max_length} characters, got {len(value)}"
            )
        if isinstance(kind, mi.LiteralType) and isinstance(value, str):
            return f"must be one of {', '.join(map(str, kind.values))}, got {value[:40]!r}"
    return f"must be {_kinds(info)}"


def _int_bounds(kind: mi.IntType, value: int) -> str:
    if kind.ge is not None and kind.le is not None:
        return f"must be between {kind.ge} and {kind.le}, got {value}"
    if kind.ge is not None and value < kind.ge:
        return f"must be at least {kind.ge}, got {value}"
    return f"must be at most {kind.le}, got {value}"


_KINDS: dict[type[mi.Type], str] = {
    mi.IntType: "an integer",
    mi.StrType: "a string",
    mi.LiteralType: "a string",
    mi.ListType: "a list",
    mi.StructType: "an object",
    mi.NoneType: "null",
}


def _kinds(info: mi.Type) -> str:
    """`an integer`, `a string or null`, `a string, an integer or null`."""
    kinds = list(dict.fromkeys(_KINDS.get(type(k), "a value") for k in _alternatives(info)))
    return kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"
