"""Writes small OLE compound files (MS-CFB version 3) for tests: Outlook .msg, encrypted DOCX.

No library on PyPI writes new OLE files (olefile only rewrites streams in place),
so tests build them here. Streams under 4096 bytes go to the mini stream, as the
format requires; the directory is a right-leaning chain of siblings in the
format's name order, a valid (if unbalanced) search tree that readers accept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SECTOR = 512
MINI_SECTOR = 64
MINI_CUTOFF = 4096
FREE, END_OF_CHAIN, FAT_SECTOR, NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
HEADER_DIFAT_SLOTS = 109
STORAGE, STREAM, ROOT = 1, 2, 5


@dataclass
class _Entry:
    name: str
    kind: int
    data: bytes = b""
    children: list[_Entry] = field(default_factory=list)
    start: int = END_OF_CHAIN
    index: int = 0


def build_ole(tree: dict[str, object]) -> bytes:
    """An OLE file from nested dicts: str -> bytes (a stream) or str -> dict (a storage)."""
    root = _Entry("Root Entry", ROOT, children=_entries(tree))
    entries = _flatten(root)
    mini = bytearray()
    mini_fat: list[int] = []
    sectors = bytearray()
    fat: list[int] = []

    def put_regular(data: bytes) -> int:
        count = max(1, -(-len(data) // SECTOR))
        start = len(fat)
        fat.extend(range(start + 1, start + count))
        fat.append(END_OF_CHAIN)
        sectors.extend(data.ljust(count * SECTOR, b"\x00"))
        return start

    for entry in entries:
        if entry.kind != STREAM or not entry.data:
            continue
        if len(entry.data) >= MINI_CUTOFF:
            entry.start = put_regular(entry.data)
        else:
            count = -(-len(entry.data) // MINI_SECTOR)
            entry.start = len(mini_fat)
            mini_fat.extend(range(entry.start + 1, entry.start + count))
            mini_fat.append(END_OF_CHAIN)
            mini.extend(entry.data.ljust(count * MINI_SECTOR, b"\x00"))
    if mini:
        root.start = put_regular(bytes(mini))
    root.data = bytes(mini)
    mini_fat_start = END_OF_CHAIN
    mini_fat_count = 0
    if mini_fat:
        table = b"".join(struct.pack("<I", n) for n in mini_fat)
        mini_fat_count = -(-len(table) // SECTOR)
        mini_fat_start = put_regular(table.ljust(mini_fat_count * SECTOR, b"\xff"))
    links = _link_siblings(entries)
    directory = b"".join(
        _directory_entry(entry, len(root.data), links.get(entry.index, NO_STREAM)) for entry in entries
    )
    directory += _empty_entry() * (-len(entries) % (SECTOR // 128))
    directory_start = put_regular(directory)

    fat_count = 1
    while (len(fat) + fat_count) > fat_count * (SECTOR // 4):
        fat_count += 1
    assert fat_count <= HEADER_DIFAT_SLOTS, "test files stay small"
    fat_start = len(fat)
    fat.extend([FAT_SECTOR] * fat_count)
    fat_table = b"".join(struct.pack("<I", n) for n in fat).ljust(fat_count * SECTOR, b"\xff")
    difat = [fat_start + i for i in range(fat_count)] + [FREE] * (HEADER_DIFAT_SLOTS - fat_count)
    header = (
        MAGIC
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack(
            "<IIIIIIIII",
            0,
            fat_count,
            directory_start,
            0,
            MINI_CUTOFF,
            mini_fat_start,
            mini_fat_count,
            END_OF_CHAIN,
            0,
        )
        + b"".join(struct.pack("<I", n) for n in difat)
    )
    assert len(header) == SECTOR
    return header + bytes(sectors) + fat_table


def _entries(tree: dict[str, object]) -> list[_Entry]:
    out = []
    for name, value in tree.items():
        if isinstance(value, dict):
            out.append(_Entry(name, STORAGE, children=_entries(value)))
        else:
            assert isinstance(value, bytes)
            out.append(_Entry(name, STREAM, data=value))
    return out


def _flatten(root: _Entry) -> list[_Entry]:
    ordered = [root]
    pending = [root]
    while pending:
        entry = pending.pop(0)
        for child in entry.children:
            child.index = len(ordered)
            ordered.append(child)
            pending.append(child)
    return ordered


def _order(name: str) -> tuple[int, str]:
    return (len(name), name.upper())  # MS-CFB compares names by length, then case-folded


def _directory_entry(entry: _Entry, mini_size: int, right: int) -> bytes:
    encoded = (entry.name + "\x00").encode("utf-16-le")
    assert len(encoded) <= 64, entry.name
    children = sorted(entry.children, key=lambda child: _order(child.name))
    child = children[0].index if children else NO_STREAM
    return (
        encoded.ljust(64, b"\x00")
        + struct.pack("<HBB", len(encoded), entry.kind, 1)  # black
        + struct.pack("<III", NO_STREAM, right, child)
        + b"\x00" * 16  # CLSID
        + b"\x00" * 4  # state bits
        + b"\x00" * 16  # creation and modification times
        + struct.pack("<IQ", entry.start, mini_size if entry.kind == ROOT else len(entry.data))
    )


def _empty_entry() -> bytes:
    return (
        b"\x00" * 64
        + struct.pack("<HBB", 0, 0, 0)
        + struct.pack("<III", NO_STREAM, NO_STREAM, NO_STREAM)
        + b"\x00" * 48
    )


def _link_siblings(entries: list[_Entry]) -> dict[int, int]:
    """Right-sibling links: each storage's children chained in name order."""
    links: dict[int, int] = {}
    for entry in entries:
        children = sorted(entry.children, key=lambda child: _order(child.name))
        for left, right in zip(children, children[1:], strict=False):
            links[left.index] = right.index
    return links
