"""The report's plot: accuracy against mean tokens per question, one point per mode with
its 95 % interval as a vertical bar, as a PNG written with the standard library (zlib and
struct; no plotting library to install or import).

:class:`Canvas` draws pixels, lines and 5x7 text; :func:`encode_png` writes any RGB canvas;
:func:`accuracy_plot` lays the figure out.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Canvas", "Point", "accuracy_plot", "encode_png"]

Colour = tuple[int, int, int]
WHITE: Colour = (255, 255, 255)
BLACK: Colour = (0, 0, 0)
GREY: Colour = (200, 200, 200)
PALETTE: dict[str, Colour] = {
    "single": (120, 120, 120),
    "sc": (0, 114, 178),
    "vote": (0, 158, 115),
    "debate": (213, 94, 0),
    "auto": (204, 121, 167),
}

# 5x7 glyphs for the characters the figure writes; anything else is left blank.
_GLYPHS: dict[str, tuple[str, ...]] = {
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("####.", "....#", "....#", ".###.", "....#", "....#", "####."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    "-": (".....", ".....", ".....", ".###.", ".....", ".....", "....."),
    "%": ("##..#", "##..#", "...#.", "..#..", ".#...", "#..##", "#..##"),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),
    "a": (".....", ".....", ".###.", "....#", ".####", "#...#", ".####"),
    "b": ("#....", "#....", "####.", "#...#", "#...#", "#...#", "####."),
    "c": (".....", ".....", ".###.", "#....", "#....", "#...#", ".###."),
    "d": ("....#", "....#", ".####", "#...#", "#...#", "#...#", ".####"),
    "e": (".....", ".....", ".###.", "#...#", "#####", "#....", ".###."),
    "g": (".....", ".####", "#...#", "#...#", ".####", "....#", ".###."),
    "i": ("..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."),
    "k": ("#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."),
    "l": (".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "m": (".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"),
    "n": (".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"),
    "o": (".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."),
    "p": (".....", ".....", "####.", "#...#", "####.", "#....", "#...."),
    "q": (".....", ".....", ".####", "#...#", ".####", "....#", "....#"),
    "r": (".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."),
    "s": (".....", ".....", ".####", "#....", ".###.", "....#", "####."),
    "t": (".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."),
    "u": (".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"),
    "v": (".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "y": (".....", ".....", "#...#", "#...#", ".####", "....#", ".###."),
    "w": (".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."),
    "h": ("#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"),
    "f": ("..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."),
}


class Canvas:
    """A ``width`` x ``height`` RGB image, white to start with."""

    def __init__(self, width: int, height: int) -> None:
        if width < 1 or height < 1:
            raise ValueError("a canvas needs at least one pixel")
        self.width = width
        self.height = height
        self.pixels = bytearray(WHITE * (width * height))

    def set(self, x: int, y: int, colour: Colour) -> None:
        """Paint one pixel (outside the canvas: nothing)."""
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i : i + 3] = bytes(colour)

    def get(self, x: int, y: int) -> Colour:
        i = (y * self.width + x) * 3
        return (self.pixels[i], self.pixels[i + 1], self.pixels[i + 2])

    def line(self, x0: int, y0: int, x1: int, y1: int, colour: Colour, width: int = 1) -> None:
        """A straight line (Bresenham), ``width`` pixels thick."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        error = dx + dy
        half = width // 2
        while True:
            for ox in range(-half, width - half):
                for oy in range(-half, width - half):
                    self.set(x0 + ox, y0 + oy, colour)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * error
            if e2 >= dy:
                error += dy
                x0 += sx
            if e2 <= dx:
                error += dx
                y0 += sy

    def disc(self, cx: int, cy: int, radius: int, colour: Colour) -> None:
        """A filled circle."""
        for y in range(-radius, radius + 1):
            for x in range(-radius, radius + 1):
                if x * x + y * y <= radius * radius:
                    self.set(cx + x, cy + y, colour)

    def text(self, x: int, y: int, text: str, colour: Colour = BLACK, scale: int = 1) -> int:
        """Write ``text`` with its top-left corner at (x, y); returns its width."""
        for n, char in enumerate(text.lower()):
            glyph = _GLYPHS.get(char)
            if glyph is None:
                continue
            for row, bits in enumerate(glyph):
                for col, bit in enumerate(bits):
                    if bit == "#":
                        for sx in range(scale):
                            for sy in range(scale):
                                self.set(
                                    x + (n * 6 + col) * scale + sx, y + row * scale + sy, colour
                                )
        return len(text) * 6 * scale


def encode_png(canvas: Canvas) -> bytes:
    """The canvas as an 8-bit RGB PNG (no interlacing, filter 0 on every row)."""
    stride = canvas.width * 3
    raw = b"".join(
        b"\x00" + bytes(canvas.pixels[row * stride : (row + 1) * stride])
        for row in range(canvas.height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", canvas.width, canvas.height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True, slots=True)
class Point:
    """One mode on the plot: mean tokens, accuracy and its interval."""

    mode: str
    tokens: float
    accuracy: float
    low: float
    high: float


def points_of(modes: Mapping[str, Mapping[str, object]]) -> list[Point]:
    """The plotted points of a summary's ``modes`` (modes with no scored question skipped)."""
    found = []
    for mode, row in modes.items():
        values = [row.get(k) for k in ("tokens_mean", "accuracy", "ci_low", "ci_high")]
        if all(isinstance(v, int | float) for v in values):
            tokens, accuracy, low, high = (float(v) for v in values)  # type: ignore[arg-type]
            found.append(Point(mode, tokens, accuracy, low, high))
    return found


def accuracy_plot(points: Sequence[Point], *, width: int = 640, height: int = 420) -> Canvas:
    """Accuracy (y, with 95 % interval bars) against mean tokens per question (x)."""
    canvas = Canvas(width, height)
    left, right, top, bottom = 70, width - 130, 30, height - 60
    x_max = _nice(max((p.tokens for p in points), default=1.0) * 1.1)
    y_low = math.floor(min((p.low for p in points), default=0.0) * 10) / 10
    y_high = min(1.0, math.ceil(max((p.high for p in points), default=1.0) * 10) / 10)
    if y_high - y_low < 0.1:  # one value (all right, or all wrong): a tenth of the scale
        y_low = max(0.0, y_high - 0.1)
        y_high = y_low + 0.1

    def sx(tokens: float) -> int:
        return left + round((right - left) * tokens / x_max)

    def sy(accuracy: float) -> int:
        return bottom - round((bottom - top) * (accuracy - y_low) / (y_high - y_low))

    for i in range(6):  # grid and ticks
        tokens = x_max * i / 5
        canvas.line(sx(tokens), top, sx(tokens), bottom, GREY)
        label = f"{tokens:.0f}"
        canvas.text(sx(tokens) - len(label) * 3, bottom + 8, label)
        accuracy = y_low + (y_high - y_low) * i / 5
        canvas.line(left, sy(accuracy), right, sy(accuracy), GREY)
        label = f"{accuracy * 100:.0f}%"
        canvas.text(left - 8 - len(label) * 6, sy(accuracy) - 3, label)
    canvas.line(left, bottom, right, bottom, BLACK)
    canvas.line(left, top, left, bottom, BLACK)
    canvas.text((left + right) // 2 - 57, height - 28, "tokens per question")
    canvas.text(8, 10, "accuracy (95% ci)")
    placed: list[tuple[int, int]] = []
    for n, point in enumerate(points):
        colour = PALETTE.get(point.mode, BLACK)
        x = sx(point.tokens)
        # Modes at the same place (sc and vote often are) are set side by side.
        while any(abs(x - px) < 8 and abs(sy(point.accuracy) - py) < 8 for px, py in placed):
            x += 8
        placed.append((x, sy(point.accuracy)))
        canvas.line(x, sy(point.low), x, sy(point.high), colour, width=2)
        canvas.line(x - 5, sy(point.low), x + 5, sy(point.low), colour, width=2)
        canvas.line(x - 5, sy(point.high), x + 5, sy(point.high), colour, width=2)
        canvas.disc(x, sy(point.accuracy), 5, colour)
        canvas.disc(right + 22, top + 12 + n * 22, 5, colour)  # legend
        canvas.text(right + 34, top + 6 + n * 22, point.mode, colour, scale=2)
    return canvas


def _nice(value: float) -> float:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 x 10^k) at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value:
            return step * power
    return 10 * power
