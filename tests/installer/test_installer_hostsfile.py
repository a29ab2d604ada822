"""edgeadm's /etc/hosts block: inserted and removed without changing any other byte of the file."""

from __future__ import annotations

import pytest
from edge_installer.hostsfile import (
    BEGIN_MARKER,
    END_MARKER,
    SUPEREDGE_BEGIN,
    SUPEREDGE_END,
    insert_block,
    mapping_lines,
    remove_block,
    render_block,
)

BLOCK = render_block(["203.0.113.10 kubernetes.default"])
ORIGINALS = [
    "",
    "127.0.0.1 localhost\n",
    "127.0.0.1 localhost\r\n::1 ip6-localhost",  # CRLF line ends and no final newline
    "127.0.0.1 localhost\n\n\n# comment\n",
    "\xe9\xff 127.0.0.1 odd-bytes\r",  # latin-1 stands for arbitrary bytes
]


@pytest.mark.parametrize("original", ORIGINALS)
def test_insert_then_remove_gives_back_the_same_text(original: str) -> None:
    insertion = insert_block(original, BLOCK)
    assert insertion.text.startswith(original)
    assert BEGIN_MARKER in insertion.text and insertion.text.endswith(END_MARKER + "\n")
    restored, found = remove_block(insertion.text, insertion.inserted, insertion.replaced)
    assert found
    assert restored == original


def test_the_block_starts_on_its_own_line_when_the_file_lacks_a_final_newline() -> None:
    insertion = insert_block("127.0.0.1 localhost", BLOCK)
    assert insertion.text == "127.0.0.1 localhost\n" + BLOCK


def test_an_old_superedge_block_is_replaced_not_duplicated_and_comes_back_on_removal() -> None:
    old = f"127.0.0.1 localhost\r\n{SUPEREDGE_BEGIN}\r\n10.0.0.1 kubernetes.default\r\n{SUPEREDGE_END}\r\n::1 x\n"
    insertion = insert_block(old, BLOCK)
    assert SUPEREDGE_BEGIN not in insertion.text
    assert insertion.text.count("kubernetes.default") == 1
    assert insertion.text.endswith("::1 x\n")
    restored, _ = remove_block(insertion.text, insertion.inserted, insertion.replaced)
    assert restored == old


def test_a_second_insert_replaces_edgeadms_own_block() -> None:
    first = insert_block("a\n", BLOCK).text
    second = insert_block(first, render_block(["198.51.100.1 kubernetes.default"]))
    assert second.text.count(BEGIN_MARKER) == 1
    assert "198.51.100.1" in second.text and "203.0.113.10" not in second.text


def test_an_edited_block_is_still_removed_by_its_markers() -> None:
    original = "127.0.0.1 localhost"
    insertion = insert_block(original, BLOCK)
    edited = insertion.text.replace("203.0.113.10", "203.0.113.99")
    restored, found = remove_block(edited, insertion.inserted, insertion.replaced)
    assert found
    assert restored == original


def test_lines_after_the_block_are_kept_on_removal() -> None:
    insertion = insert_block("a\n", BLOCK)
    later = insertion.text + "192.0.2.1 added-later\n"
    restored, _ = remove_block(later, insertion.inserted, insertion.replaced)
    assert restored == "a\n192.0.2.1 added-later\n"


def test_no_block_means_nothing_to_remove() -> None:
    assert remove_block("a\n", "\n" + BLOCK, "") == ("a\n", False)


def test_mapping_lines_skip_invalid_names_and_keep_host_config_lines() -> None:
    lines = mapping_lines("203.0.113.10", ["kubernetes.default", "bad name", "registry.example"],
                          ["192.0.2.5 mirror.local\r", "  "])
    assert lines == ["203.0.113.10 kubernetes.default", "203.0.113.10 registry.example", "192.0.2.5 mirror.local"]


def test_marker_lines_in_host_config_cannot_break_the_block() -> None:
    block = render_block(["1.2.3.4 a", END_MARKER, "5.6.7.8 b"])
    assert block.count(END_MARKER) == 1
