"""The service's durable queue: one row per submission, keyed by (student, timestamp), in a small
SQLite file under autograded/.kit-watch/ (each change one committed transaction).

A row is 'pending' from the moment the submission is seen until its page is published; then
'graded' (or 'failed', or 'superseded' when a newer one of the same student came first). A
service killed at any point finds its pending rows again on restart, and a submission seen twice
is one row, so nothing is lost and nothing is queued twice. Only the next row is ever read into
memory, whatever the queue's length.
"""

import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    student TEXT NOT NULL, stamp TEXT NOT NULL, at REAL NOT NULL, name TEXT NOT NULL,
    seen REAL NOT NULL, state TEXT NOT NULL DEFAULT 'pending', not_before REAL,
    graded REAL, released REAL, latency REAL, level TEXT, note TEXT, page TEXT,
    PRIMARY KEY (student, stamp));
CREATE INDEX IF NOT EXISTS by_state ON submissions (state, at);
"""


@dataclass
class Row:
    """One submission: student, its timestamp (as timestamp.txt has it; `at` in epoch seconds),
    where it is (the inbound folder's name, or the submitted/ folder), and its state."""

    student: str
    stamp: str
    at: float
    name: str
    state: str
    not_before: float | None


def path(root: Path) -> Path:
    return root / "autograded" / ".kit-watch" / "ledger.sqlite"


class Ledger:
    def __init__(self, file: Path):
        file.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(file), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add(self, student: str, stamp: str, at: float, name: str) -> bool:
        """Queue a submission unless it is known already; whether it was new."""
        cursor = self.db.execute("INSERT OR IGNORE INTO submissions (student, stamp, at, name, seen) "
                                 "VALUES (?, ?, ?, ?, ?)", (student, stamp, at, name, time.time()))
        return cursor.rowcount == 1

    def known(self) -> set[tuple[str, str]]:
        return set(self.db.execute("SELECT student, stamp FROM submissions"))

    def supersede(self) -> int:
        """Each student's newest pending submission wins: the older pending ones are dropped."""
        return self.db.execute(
            "UPDATE submissions SET state = 'superseded' WHERE state = 'pending' AND EXISTS "
            "(SELECT 1 FROM submissions newer WHERE newer.student = submissions.student "
            "AND newer.state = 'pending' AND newer.at > submissions.at)").rowcount

    def next_ready(self, now: float, busy: set[str] = frozenset()) -> Row | None:
        """The oldest pending submission not held back by the rate limit, of a student not busy."""
        marks = ", ".join("?" * len(busy))
        found = self.db.execute(
            "SELECT student, stamp, at, name, state, not_before FROM submissions WHERE state = 'pending' "
            f"AND (not_before IS NULL OR not_before <= ?) AND student NOT IN ({marks}) ORDER BY at, student LIMIT 1",
            (now, *sorted(busy))).fetchone()
        return Row(*found) if found else None

    def set_state(self, row: Row, state: str) -> None:
        self.db.execute("UPDATE submissions SET state = ? WHERE student = ? AND stamp = ?",
                        (state, row.student, row.stamp))

    def deferred_unannounced(self, now: float) -> Row | None:
        """A pending submission held back whose 'graded later' page is not published yet."""
        found = self.db.execute(
            "SELECT student, stamp, at, name, state, not_before FROM submissions WHERE state = 'pending' "
            "AND not_before > ? AND level IS NULL ORDER BY at LIMIT 1", (now,)).fetchone()
        return Row(*found) if found else None

    def graded_since(self, student: str, since: float) -> list[float]:
        """When this student's submissions graded since then were graded, oldest first."""
        return [t for (t,) in self.db.execute(
            "SELECT graded FROM submissions WHERE student = ? AND state = 'graded' AND graded > ? "
            "ORDER BY graded", (student, since))]

    def defer(self, row: Row, until: float) -> None:
        self.db.execute("UPDATE submissions SET not_before = ?, level = NULL WHERE student = ? AND stamp = ?",
                        (until, row.student, row.stamp))

    def announced(self, row: Row, page: str | None = None) -> None:
        """The 'graded later' page of a held-back submission is published (under that name)."""
        self.db.execute("UPDATE submissions SET level = 'later', page = ? WHERE student = ? AND stamp = ?",
                        (page, row.student, row.stamp))

    def finish(self, row: Row, state: str, level: str | None, note: str | None = None) -> float:
        """Mark a submission graded (or failed) and its page published; returns its latency."""
        now = time.time()
        latency = None if row.not_before else now - row.at
        self.db.execute("UPDATE submissions SET state = ?, graded = ?, released = ?, latency = ?, level = ?, "
                        "note = ? WHERE student = ? AND stamp = ?",
                        (state, now, now, latency, level, note, row.student, row.stamp))
        return now - row.at

    def published(self, row: Row, page: str) -> list[str]:
        """Record the page published for this submission; returns the pages of the student's older
        submissions, which it replaces (their names are forgotten)."""
        older = [p for (p,) in self.db.execute("SELECT page FROM submissions WHERE student = ? AND at < ? "
                                               "AND page IS NOT NULL", (row.student, row.at))]
        self.db.execute("UPDATE submissions SET page = NULL WHERE student = ? AND at < ?", (row.student, row.at))
        self.db.execute("UPDATE submissions SET page = ? WHERE student = ? AND stamp = ?",
                        (page, row.student, row.stamp))
        return older

    def below_full(self) -> list[tuple[str, str]]:
        """(student, stamp) of published pages that do not show everything (before the due date)."""
        return list(self.db.execute("SELECT student, stamp FROM submissions WHERE state = 'graded' "
                                    "AND level IN ('visible', 'summary')"))

    def set_level(self, student: str, stamp: str, level: str) -> None:
        self.db.execute("UPDATE submissions SET level = ? WHERE student = ? AND stamp = ?", (level, student, stamp))

    def status(self, since: float) -> dict:
        """Queue length, last graded, failures, and latency quantiles since then (seconds)."""
        queued = self.db.execute("SELECT COUNT(*) FROM submissions WHERE state = 'pending'").fetchone()[0]
        held = self.db.execute("SELECT COUNT(*) FROM submissions WHERE state = 'pending' AND not_before > ?",
                               (time.time(),)).fetchone()[0]
        last = self.db.execute("SELECT student, stamp, graded FROM submissions WHERE state = 'graded' "
                               "ORDER BY graded DESC LIMIT 1").fetchone()
        failures = [{"student": s, "timestamp": t, "why": n} for s, t, n in self.db.execute(
            "SELECT student, stamp, note FROM submissions WHERE state = 'failed' ORDER BY graded DESC LIMIT 20")]
        latencies = sorted(v for (v,) in self.db.execute(
            "SELECT latency FROM submissions WHERE latency IS NOT NULL AND released > ?", (since,)))
        counts = dict(self.db.execute("SELECT state, COUNT(*) FROM submissions GROUP BY state"))
        return {"queued": queued, "held_by_limit": held, "counts": counts,
                "last_graded": {"student": last[0], "timestamp": last[1], "at": last[2]} if last else None,
                "failures": failures, "latency_today": {"count": len(latencies), "p50": quantile(latencies, 0.5),
                                                        "p95": quantile(latencies, 0.95)}}


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile of sorted values (nearest rank), None when there are none."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]
