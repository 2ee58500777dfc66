"""What every request passes before its handler's arguments are decoded (the app's before_request).

Runs after authentication and the guards and before Litestar decodes the body, so nothing a client
sends reaches a handler, a query or a log line in a shape that would make the server fail:

- the body is read within the route's size limit (`request_max_body_size`: BODY_LIMIT for JSON
  APIs, smaller for sign-in, larger for a sync batch and photos; over it → 413 `request.too_large`
  before it is read further);
- JSON nested deeper than MAX_DEPTH → 400 `request.too_deep` (msgspec recurses: at ~1,000 levels
  it raises RecursionError, which Litestar answered with a 500) and bytes that are not UTF-8 → 400
  `request.invalid_encoding` (a body that is not JSON is left to Litestar: 400 `request.invalid`);
- an integer outside 64 bits (no column holds one; SQLite raises OverflowError and PostgreSQL a
  data error) → 400 `request.number_out_of_range` in a body or an integer query parameter, 404 in
  a path (no such record can exist);
- a control character in a body string → 400 `text.control_characters` (see core/text.py), and
  in a query value (where a tab or line break is one too) the same; in a path → 404.

A handler that answers per item instead (the sync push: one bad operation must not block a phone's
whole outbox) sets `opt={CHECKED_PER_ITEM: True}` and passes each item to `check_item` itself;
size, depth and encoding still apply to its whole body.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import ParamType, RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg, ParameterKwarg

from backend.core.errors import AppError, NotFound
from backend.core.text import (
    ControlCharacters,
    check_no_control_characters,
    has_control_characters,
    has_line_controls,
)

KB = 1024
MB = 1024 * KB
AUTH_BODY_LIMIT = 64 * KB  # sign-in, refresh: a few short strings
BODY_LIMIT = 1 * MB  # any other JSON API (a case with 20 parties and 5,000-character texts is ~30 KB)
SYNC_BODY_LIMIT = 4 * MB  # a push of up to 200 operations from a phone's outbox
MAX_DEPTH = 32  # the deepest body the API takes (a sync push of a case) is 6 levels
CHECKED_PER_ITEM = "text_checked_per_item"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class TooDeep(AppError):
    code = "request.too_deep"
    message = "请求内容嵌套层数过多"
    message_en = f"The JSON body is nested more than {MAX_DEPTH} levels deep"


class InvalidEncoding(AppError):
    code = "request.invalid_encoding"
    message = "请求内容不是有效的 UTF-8 文字"
    message_en = "The request body is not valid UTF-8"


class NumberOutOfRange(AppError):
    code = "request.number_out_of_range"
    message = "数字超出允许范围"
    message_en = "A number is out of range"


def json_depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether decoded JSON nests deeper than `limit` (`[]` is one level): level by level, no recursion."""
    level = [value]
    for _ in range(limit + 1):
        containers = [item for item in level if isinstance(item, list | dict)]
        if not containers:
            return False
        level = []
        for container in containers:
            level.extend(container.values() if isinstance(container, dict) else container)
    return True


def _first_out_of_range(value: Any, where: str = "") -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return (where or "$") if not INT64_MIN <= value <= INT64_MAX else None
    if isinstance(value, dict):
        items: Any = ((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for path, item in items:
        found = _first_out_of_range(item, path)
        if found is not None:
            return found
    return None


_FACTS_KEY = "_input_facts"  # cached in the handler's own opt: a handler's facts never change
_PATH_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")


def _facts(handler: HTTPRouteHandler) -> tuple[bool, frozenset[str]]:
    """(whether the handler decodes a JSON body, the keys of its integer query parameters)."""
    known = handler.opt.get(_FACTS_KEY)
    if known is None:
        path_names = {m for path in handler.paths for m in _PATH_PARAM.findall(path)}
        json_body = False
        int_queries = set()
        for name, field in handler.parsed_fn_signature.parameters.items():
            kwarg = field.kwarg_definition
            if name == "data":
                json_body = not isinstance(kwarg, BodyKwarg) or kwarg.media_type == RequestEncodingType.JSON
                continue
            if name in path_names or not (kwarg is None or _is_query(kwarg)):
                continue
            types = [field, *field.inner_types] if field.is_optional else [field]
            if any(t.annotation is int for t in types):
                query_key = (getattr(kwarg, "name", None) or getattr(kwarg, "query", None)) if kwarg else None
                int_queries.add(query_key or name)
        known = handler.opt[_FACTS_KEY] = (json_body, frozenset(int_queries))
    return known


def _is_query(kwarg: object) -> bool:
    return (
        isinstance(kwarg, ParameterKwarg)
        and kwarg.param_type == ParamType.QUERY
        and not kwarg.header
        and not kwarg.cookie
    )


def _check_path(request: Request) -> None:
    for value in request.path_params.values():
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            raise NotFound()
        if isinstance(value, str) and has_line_controls(value):
            raise NotFound()


def _check_query(request: Request, int_queries: frozenset[str]) -> None:
    for key, value in request.query_params.multi_items():
        if has_line_controls(key):
            raise ControlCharacters(details={"field": "?"})
        if has_line_controls(value):
            raise ControlCharacters(details={"field": key})
        if key in int_queries:
            try:
                number = int(value)
            except ValueError:
                continue  # not a number at all: the handler's validation answers that
            if not INT64_MIN <= number <= INT64_MAX:
                raise NumberOutOfRange(details={"field": key})


async def check_request(request: Request) -> None:
    """The app's before_request hook (see the module notes); returns None so the handler runs."""
    handler = request.route_handler
    if not isinstance(handler, HTTPRouteHandler):
        return
    json_body, int_queries = _facts(handler)
    _check_path(request)
    _check_query(request, int_queries)
    if not json_body:
        return
    body = await request.body()  # Litestar enforces the route's size limit while reading
    if not body:
        return
    try:
        # msgspec stops at its own recursion limit (~1,000 levels) with RecursionError; Litestar's
        # decoding would let that through as a 500.
        value = msgspec.json.decode(body)
    except RecursionError:
        raise TooDeep() from None
    except UnicodeDecodeError:
        raise InvalidEncoding() from None
    except msgspec.DecodeError:
        return  # not JSON: Litestar's own decoding answers 400 request.invalid
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and json_depth_exceeds(value):
        raise TooDeep()
    if not handler.opt.get(CHECKED_PER_ITEM):
        check_item(value)


def _suspect(value: Any) -> bool:
    """Whether any integer is outside 64 bits or any string or key holds a control character: one
    iterative pass that builds no paths (those are found afterwards, only for a body that fails)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if has_control_characters(item):
                return True
        elif kind is int:
            if not INT64_MIN <= item <= INT64_MAX:
                return True
        elif kind is list:
            stack.extend(item)
        elif kind is dict:
            if any(has_control_characters(key) for key in item):
                return True
            stack.extend(item.values())
    return False


def check_item(value: Any, where: str = "") -> None:
    """Decoded JSON: integers within 64 bits and strings without control characters (else AppError)."""
    if not _suspect(value):
        return
    out_of_range = _first_out_of_range(value, where)
    if out_of_range is not None:
        raise NumberOutOfRange(details={"field": out_of_range[:200]})
    check_no_control_characters(value, where)
