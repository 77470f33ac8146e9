"""Deployment logs: ``get-logs --lines N`` gives the last N lines however long they are."""

from __future__ import annotations

from pathlib import Path

from modelworks.endpoints._workers import tail


def test_tail_reads_back_as_many_lines_as_asked(tmp_path: Path) -> None:
    log = tmp_path / "blue.log"
    log.write_text("".join(f"line {i} " + "x" * 200 + "\n" for i in range(3000)))
    last = tail(log, 2000).splitlines()
    assert (
        len(last) == 2000 and last[0].startswith("line 1000 ") and last[-1].startswith("line 2999 ")
    )
    assert tail(log, 1) == "line 2999 " + "x" * 200
    assert len(tail(log, 10_000).splitlines()) == 3000
    assert tail(tmp_path / "missing.log", 5) == ""
