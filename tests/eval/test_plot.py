"""The PNG plot: a valid PNG (chunks, CRCs, pixels) with each mode drawn where it belongs."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib

from aragora.eval.plot import PALETTE, Canvas, Point, accuracy_plot, encode_png, points_of


def _decode(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and raw RGB rows of a PNG this module wrote (filter 0 only)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, []
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF
        chunks.append((kind, data))
        at += 12 + length
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(chunks[1][1])
    stride = width * 3 + 1
    assert len(raw) == stride * height
    assert all(raw[row * stride] == 0 for row in range(height))
    pixels = b"".join(raw[row * stride + 1 : (row + 1) * stride] for row in range(height))
    return width, height, pixels


def test_a_canvas_round_trips_through_png() -> None:
    canvas = Canvas(7, 5)
    canvas.set(3, 2, (10, 20, 30))
    canvas.set(99, 99, (1, 1, 1))  # outside: ignored
    width, height, pixels = _decode(encode_png(canvas))
    assert (width, height) == (7, 5)
    assert pixels[(2 * 7 + 3) * 3 : (2 * 7 + 3) * 3 + 3] == bytes((10, 20, 30))
    assert pixels.count(b"\xff") == 7 * 5 * 3 - 3


def test_each_mode_is_a_coloured_point_higher_when_more_accurate() -> None:
    points = [Point("vote", 500, 0.78, 0.76, 0.80), Point("debate", 2500, 0.95, 0.93, 0.97)]
    canvas = accuracy_plot(points)
    _decode(encode_png(canvas))

    def rows_of(colour: tuple[int, int, int], x_range: range) -> list[int]:
        return [y for y in range(canvas.height) for x in x_range if canvas.get(x, y) == colour]

    plot_area = range(60, canvas.width - 130)
    vote, debate = rows_of(PALETTE["vote"], plot_area), rows_of(PALETTE["debate"], plot_area)
    assert vote
    assert debate
    assert min(debate) < min(vote)  # up is more accurate
    debate_x = [
        x for x in plot_area for y in range(canvas.height) if canvas.get(x, y) == PALETTE["debate"]
    ]
    vote_x = [
        x for x in plot_area for y in range(canvas.height) if canvas.get(x, y) == PALETTE["vote"]
    ]
    assert min(debate_x) > max(vote_x)  # right is more tokens


def test_points_skip_modes_without_results() -> None:
    modes = {
        "vote": {"tokens_mean": 5.0, "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6},
        "sc": {"tokens_mean": None, "accuracy": None, "ci_low": None, "ci_high": None},
    }
    assert points_of(modes) == [Point("vote", 5.0, 0.5, 0.4, 0.6)]
    accuracy_plot([])  # an empty run still draws its axes
    for value in (0.0, 1.0):  # every question wrong, or every one right, at no cost
        canvas = accuracy_plot([Point("single", 0.0, value, value, value)])
        assert PALETTE["single"] in {canvas.get(x, y) for x in range(70, 80) for y in range(420)}


def test_no_plotting_library_is_imported() -> None:
    code = "import sys, aragora.eval.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
