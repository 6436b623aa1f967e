"""A request body read as one JSON object into a pydantic model, with the API's errors:
413 over ``limit`` bytes, 400 when it is not JSON or not an object, 422 naming the first
field that does not fit the model. The quarantine write and bktec's plan calls use it."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from services.api.errors import BadRequest, InvalidBody, TooLarge

__all__ = ["json_body"]

M = TypeVar("M", bound=BaseModel)


def json_body(raw: bytes, model: type[M], *, limit: int) -> M:
    if len(raw) > limit:
        raise TooLarge(f"the body is over {limit} bytes")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in error["loc"]) or "the body"
        raise InvalidBody(f"{where}: {error['msg']}") from None
