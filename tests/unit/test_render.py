"""The VOI functions of PS3.3 C.11.2.1.2 onto 8 bits, checked against the formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.archive.render import Window, parse_viewport, parse_window, window_to_8bit
from app.errors import InvalidInput


def test_linear_edges_and_middle() -> None:
    # C.11.2.1.2.1: x <= c - 0.5 - (w-1)/2 -> min; x > c - 0.5 + (w-1)/2 -> max.
    out = window_to_8bit(np.array([-161.0, -160.0, 40.0, 239.0, 240.0]), Window(40, 400))
    assert out.tolist() == [0, 0, 128, 255, 255]


def test_linear_exact_and_sigmoid() -> None:
    x = np.array([0.0, 50.0, 100.0])
    exact = window_to_8bit(x, Window(50, 100, "linear-exact"))
    assert exact.tolist() == [round(((v - 50) / 100 + 0.5) * 255) for v in x]
    sig = window_to_8bit(x, Window(50, 100, "sigmoid"))
    assert sig.tolist() == [round(255 / (1 + math.exp(-4 * (v - 50) / 100))) for v in x]


@pytest.mark.parametrize("text", ["1", "a,b", "10,0", "10,400,cubic", "1,2,3,4"])
def test_bad_windows(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_window(text)


def test_viewport_parsing() -> None:
    vp = parse_viewport("64,32,10,10,-20,20")
    assert vp is not None and (vp.width, vp.height, vp.sw) == (64, 32, -20)
    for bad in ("64", "0,10", "99999,10", "a,b"):
        with pytest.raises(InvalidInput):
            parse_viewport(bad)
