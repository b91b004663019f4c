"""``config.from_dict`` checks untrusted values against the dataclass's type hints, exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from genzoo.config import field, from_dict
from genzoo.data import DataConfig
from genzoo.data.errors import DataError
from genzoo.errors import ConfigError


@dataclass(frozen=True)
class Toy:
    n: int = field(1)
    x: float = field(0.5)
    clip: float = field(math.inf)  # a non-finite default: infinities allowed here
    flag: bool = field(False)
    name: str = field("a", choices=("a", "b"))
    sizes: tuple[int, ...] = field((2, 3))
    pair: tuple[float, float] = field((0.0, 1.0))
    maybe: int | None = field(None)

    def __post_init__(self):
        if self.n < 0:
            raise ValueError(f"n must be >= 0, got {self.n}")


def test_valid_values_are_converted():
    toy = from_dict(Toy, {"n": 3, "x": 2, "clip": math.inf, "flag": True, "name": "b", "sizes": [4],
                          "pair": [1, 2.5], "maybe": 7})
    assert toy == Toy(3, 2.0, math.inf, True, "b", (4,), (1.0, 2.5), 7)
    assert isinstance(toy.x, float) and isinstance(toy.sizes, tuple)
    assert from_dict(Toy, {}) == Toy()
    assert from_dict(Toy, {"maybe": None}).maybe is None


@pytest.mark.parametrize("data,message", [
    ({"n": 1.0}, "field 'n' must be an integer, got 1.0"),
    ({"n": True}, "field 'n' must be an integer, got true"),
    ({"n": None}, "field 'n' must be an integer, got null"),
    ({"x": "1"}, "field 'x' must be a number, got \"1\""),
    ({"x": math.nan}, "field 'x' must be a finite number, got NaN"),
    ({"x": -math.inf}, "field 'x' must be a finite number, got -Infinity"),
    ({"flag": 1}, "field 'flag' must be true or false, got 1"),
    ({"name": "c"}, "field 'name' must be one of a, b, got \"c\""),
    ({"sizes": 3}, "field 'sizes' must be a list of integers, got 3"),
    ({"sizes": [1, None]}, "field 'sizes' must be a list of integers, got [1, null]"),
    ({"pair": [1, 2, 3]}, "field 'pair' must be a list of 2 values (a number, a number), got [1, 2, 3]"),
    ({"maybe": "x"}, "field 'maybe' must be an integer or null, got \"x\""),
    ({"m": 1}, "unknown field(s) \"m\" for Toy"),
    ({"n": -1}, "n must be >= 0, got -1"),
    ([1], "must be a JSON object with Toy fields, got [1]"),
])
def test_bad_values_are_one_line_errors_naming_the_field(data, message):
    with pytest.raises(ConfigError) as info:
        from_dict(Toy, data, where="f.json: toy")
    assert str(info.value) == f"f.json: toy: {message}"


def test_infinity_is_kept_where_the_default_is_infinite():
    assert from_dict(Toy, {"clip": -math.inf}).clip == -math.inf
    with pytest.raises(ConfigError, match="'x' must be a finite number"):
        from_dict(Toy, {"clip": math.inf, "x": math.inf})


def test_the_dataclass_own_error_type_passes_through_without_a_location():
    with pytest.raises(DataError):
        from_dict(DataConfig, {"limit": 0})
    with pytest.raises(ConfigError, match="^run/config.json: data: limit: must be a positive integer, got 0$"):
        from_dict(DataConfig, {"limit": 0}, where="run/config.json: data")
