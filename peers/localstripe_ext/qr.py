"""The picture of WeChat Pay's QR code step. It looks like a QR code (finder squares in three corners,
a pattern drawn from the code's data) but is not one: nobody scans it, the tester clicks "Authorize" or
"Fail" beside it. A real encoder would be a dependency of the peer for no test's sake."""

import base64
import hashlib
import struct
import zlib

SIZE = 25  # modules a side, as a version-2 QR code
QUIET = 4  # light modules around it, as QR codes have
FINDERS = ((0, 0), (SIZE - 7, 0), (0, SIZE - 7))


def modules(data: str) -> list[list[bool]]:
    """SIZE × SIZE modules, True for dark; the same data always gives the same picture."""
    digest = hashlib.sha256(data.encode()).digest()
    bits = int.from_bytes(digest * 3, "big")  # 768 bits for 625 modules
    grid = [[bool(bits >> (y * SIZE + x) & 1) for x in range(SIZE)] for y in range(SIZE)]
    for left, top in FINDERS:
        for y in range(-1, 8):
            for x in range(-1, 8):
                if 0 <= top + y < SIZE and 0 <= left + x < SIZE:
                    ring = max(abs(x - 3), abs(y - 3))
                    grid[top + y][left + x] = ring in (0, 1, 3)  # dark core, light ring, dark frame
    return grid


def svg(data: str) -> str:
    side = SIZE + 2 * QUIET
    squares = "".join(
        f"M{x + QUIET} {y + QUIET}h1v1h-1z"
        for y, row in enumerate(modules(data))
        for x, dark in enumerate(row)
        if dark
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" width="{side * 6}" '
        f'height="{side * 6}" shape-rendering="crispEdges"><title>Test QR code (not scannable)</title>'
        f'<rect width="{side}" height="{side}" fill="#fff"/><path d="{squares}" fill="#000"/></svg>'
    )


def png(data: str, scale: int = 6) -> bytes:
    """An 8-bit greyscale PNG, written by hand (zlib and a CRC are all the format needs)."""
    grid = modules(data)
    side = SIZE + 2 * QUIET
    rows = []
    for y in range(side):
        row = bytearray()
        for x in range(side):
            inside = QUIET <= x < SIZE + QUIET and QUIET <= y < SIZE + QUIET
            dark = inside and grid[y - QUIET][x - QUIET]
            row += bytes([0 if dark else 255]) * scale
        rows += [b"\x00" + bytes(row)] * scale  # filter type 0 on every scanline

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side * scale, side * scale, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def png_data_url(data: str) -> str:
    return "data:image/png;base64," + base64.b64encode(png(data)).decode()
