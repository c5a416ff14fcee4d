"""A split rebuild's merge whose writes the kernel refuses, as on a full disk (a real SQLite
file, in a process whose file size limit is reached: EFBIG, where a full disk gives ENOSPC).
SQLite rolls that transaction back itself, so the merge's own ROLLBACK then failed with "cannot
rollback - no transaction is active", and that was the reason reported, hiding the write's
error. Now the merge reports the write's error (SQLite's "disk I/O error" for EFBIG)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from projector.sqlite_store import SqliteStore

TOPIC = "t"
MERGE = """
import resource, signal, sys
from pathlib import Path
from projector.rebuild_split import SplitLoadFailed, merge
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), no signal
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
try:
    merge(Path(sys.argv[1]), [Path(sys.argv[2])], "t")
except SplitLoadFailed as exc:
    print(exc)
"""


def _store(path: Path, items: int) -> Path:
    store = SqliteStore(path)
    store.create(False)
    with store._transaction() as cursor:
        for n in range(items):
            cursor.execute(
                "INSERT INTO items (catalog_id, item_id) VALUES ('k', ?)", (f"{'x' * 200}{n}",)
            )
        cursor.execute("INSERT INTO offsets VALUES (?, 0, ?)", (TOPIC, items))
    store.close()
    return path


def test_a_merge_on_a_full_disk_reports_the_full_disk(tmp_path: Path) -> None:
    fresh = SqliteStore(tmp_path / "fresh.db")
    fresh.create(False)
    fresh.close()
    part = _store(tmp_path / "part.db", 5000)  # ~2.5 MB: more than the 200 kB the merge may write
    merged = subprocess.run(
        [sys.executable, "-c", MERGE, str(tmp_path / "fresh.db"), str(part)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    reported = merged.stdout.strip()
    assert reported == "could not merge the rebuild's parts: disk I/O error", reported
    assert SqliteStore(tmp_path / "fresh.db")._query("SELECT COUNT(*) FROM items") == [(0,)]
