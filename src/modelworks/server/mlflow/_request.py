"""Typed access to an MLflow request's fields, with MLflow's messages for bad ones.

MLflow clients send a request's fields as a JSON body (POST/PATCH/DELETE) or as query
parameters (GET), in protobuf's JSON mapping: int64 fields may arrive as numbers or as
strings, doubles may be ``"NaN"``/``"Infinity"``, repeated fields as lists (or, in a query
string, as the same parameter repeated). :class:`Fields` reads both forms and raises
``INVALID_PARAMETER_VALUE`` naming the field ("Missing value for required parameter
'run_id'") for anything else.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from modelworks.server.mlflow._errors import invalid_value, missing_value

__all__ = ["Fields"]

_SPECIAL_FLOATS = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf, "inf": math.inf}
_SPECIAL_FLOATS["-inf"] = -math.inf
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no", "")


class Fields:
    """The fields of one request (or of one nested object of it).

    ``data`` maps names to values; in a query string every value is a list of strings
    (``from_query``). ``path`` prefixes field names in error messages (``metrics[3].value``).
    """

    def __init__(self, data: Mapping[str, Any], *, path: str = "", query: bool = False) -> None:
        self.data = data
        self.path = path
        self.query = query

    @classmethod
    def from_query(cls, pairs: list[tuple[str, str]]) -> Fields:
        grouped: dict[str, list[str]] = {}
        for key, value in pairs:
            grouped.setdefault(key, []).append(value)
        return cls(grouped, query=True)

    def name(self, field: str) -> str:
        return f"{self.path}.{field}" if self.path else field

    def raw(self, field: str) -> Any:
        """The field's value (for a query string: the last one), or None."""
        value = self.data.get(field)
        if self.query and isinstance(value, list):
            return value[-1] if value else None
        return value

    def has(self, field: str) -> bool:
        value = self.raw(field)
        return value is not None and value != ""

    # -- scalars ----------------------------------------------------------------------------
    def text(self, field: str, *, required: bool = False, default: str = "") -> str:
        value = self.raw(field)
        if value is None or value == "":
            if required:
                raise missing_value(self.name(field))
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise invalid_value(self.name(field), value, "expected a string")
        return str(value)

    def opt_text(self, field: str) -> str | None:
        value = self.text(field)
        return value or None

    def integer(
        self,
        field: str,
        *,
        required: bool = False,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self.raw(field)
        if value is None or value == "":
            if required:
                raise missing_value(self.name(field))
            return default
        if isinstance(value, bool):
            raise invalid_value(self.name(field), value, "expected an integer")
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise invalid_value(self.name(field), value, "expected an integer")
        if minimum is not None and number < minimum:
            raise invalid_value(self.name(field), value, f"it must be at least {minimum}")
        if maximum is not None and number > maximum:
            raise invalid_value(self.name(field), value, f"it must be at most {maximum}")
        return number

    def req_integer(self, field: str, **kwargs: Any) -> int:
        value = self.integer(field, required=True, **kwargs)
        assert value is not None  # required=True never returns None
        return value

    def number(self, field: str, *, required: bool = False) -> float | None:
        value = self.raw(field)
        if value is None or value == "":
            if required:
                raise missing_value(self.name(field))
            return None
        if isinstance(value, bool):
            raise invalid_value(self.name(field), value, "expected a number")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            special = _SPECIAL_FLOATS.get(value.strip().lower())
            if special is not None:
                return special
            try:
                return float(value)
            except ValueError:
                pass
        raise invalid_value(self.name(field), value, "expected a number")

    def flag(self, field: str, *, default: bool = False) -> bool:
        value = self.raw(field)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise invalid_value(self.name(field), value, "expected true or false")

    # -- repeated fields --------------------------------------------------------------------
    def texts(self, field: str, *, required: bool = False) -> list[str]:
        value = self.data.get(field)
        if value is None or value == []:
            if required:
                raise missing_value(self.name(field))
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value
        ):
            raise invalid_value(self.name(field), value, "expected a list of strings")
        return [str(v) for v in value]

    def objects(self, field: str) -> Iterator[Fields]:
        """The nested objects of a repeated message field, each with its own error path."""
        value = self.data.get(field)
        if value is None:
            return
        if not isinstance(value, list):
            raise invalid_value(self.name(field), value, "expected a list of objects")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise invalid_value(f"{self.name(field)}[{index}]", item, "expected an object")
            yield Fields(item, path=f"{self.name(field)}[{index}]")

    def object(self, field: str) -> Fields | None:
        value = self.data.get(field)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise invalid_value(self.name(field), value, "expected an object")
        return Fields(value, path=self.name(field))

    def key_values(self, field: str, *, value_field: str = "value") -> dict[str, str]:
        """A repeated ``{key, value}`` field as a dict (later keys win)."""
        out: dict[str, str] = {}
        for item in self.objects(field):
            key = item.text("key", required=True)
            out[key] = item.text(value_field)
        return out
