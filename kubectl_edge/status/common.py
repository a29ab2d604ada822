"""What the parts of the status report share: the problem type, and how times and lists of names are shown."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

#: How many names a problem line spells out before it says how many more there are.
NAMES_SHOWN = 5
CREATED_BY_KUBECTL_EDGE = "kubectl-edge"
CREATED_BY_OWNER = "cluster-owner"


def utc_now() -> datetime.datetime:
    """The current time, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def format_time(moment: datetime.datetime | None) -> str | None:
    """``2030-01-02T03:04:05Z`` (None stays None)."""
    return None if moment is None else moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def name_list(names: list[str]) -> str:
    """The first few names, and how many more there are."""
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown if len(names) <= NAMES_SHOWN else f"{shown} and {len(names) - NAMES_SHOWN} more"


@dataclass(frozen=True)
class Problem:
    """Something wrong: what (``message``), what to do (``hint``), and the objects concerned."""

    check: str
    message: str
    hint: str
    objects: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """One entry of ``problems``."""
        return {"check": self.check, "message": self.message, "hint": self.hint, "objects": list(self.objects)}
