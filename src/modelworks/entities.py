"""Typed records that every layer passes around.

They are plain frozen dataclasses: snapshots of what a store holds, never live handles. Each
round-trips through ``to_dict`` / ``from_dict`` (JSON-safe), which is what the REST adapter
and the server send over the wire.
"""

from __future__ import annotations

import dataclasses
import enum
import random
import time
import uuid
from typing import Any, TypeVar

T = TypeVar("T", bound="Record")


def now_ms() -> int:
    """Wall-clock time in milliseconds since the epoch: the unit of every timestamp here."""
    return int(time.time() * 1000)


def new_id() -> str:
    """A new 32-hex-character id (runs, experiments, tokens)."""
    return uuid.uuid4().hex


_ADJECTIVES = (  # noqa: SIM905
    "amber brave calm clever eager gentle happy jolly keen lively lucid mellow nimble polite "
    "quick quiet rapid shiny sleek smart sunny swift tidy vivid witty zesty bold bright crisp"
).split()
_NOUNS = (  # noqa: SIM905
    "apple badger beacon cedar comet falcon fern garnet harbor heron iris jaguar kettle lantern "
    "maple meadow nectar otter pebble quartz raven river sparrow tiger tulip willow yarrow zephyr"
).split()


def generate_run_name() -> str:
    """A readable run name such as ``swift_heron_412``."""
    return f"{random.choice(_ADJECTIVES)}_{random.choice(_NOUNS)}_{random.randint(100, 999)}"


class RunStatus(enum.StrEnum):
    """A run's life cycle (Azure ML's job vocabulary)."""

    QUEUED = "Queued"
    PREPARING = "Preparing"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED)

    @classmethod
    def parse(cls, value: str | RunStatus) -> RunStatus:
        from modelworks.errors import InvalidInputError

        if isinstance(value, RunStatus):
            return value
        for member in cls:
            if (
                member.value.lower() == str(value).lower()
                or member.name.lower() == str(value).lower()
            ):
                return member
        allowed = ", ".join(m.value for m in cls)
        raise InvalidInputError(f"Unknown run status {value!r}; expected one of {allowed}.")


class Record:
    """Mixin giving dataclasses a JSON-safe dict form."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, list):
                value = [v.to_dict() if isinstance(v, Record) else v for v in value]
            elif isinstance(value, Record):
                value = value.to_dict()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs = {k: v for k, v in data.items() if k in names}
        return cls(**kwargs)


@dataclasses.dataclass(frozen=True)
class Experiment(Record):
    id: str
    name: str
    created_at: int
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    deleted: bool = False


@dataclasses.dataclass(frozen=True)
class Metric(Record):
    key: str
    value: float
    step: int = 0
    timestamp: int = 0


@dataclasses.dataclass(frozen=True)
class Run(Record):
    """One execution: a tracked script, a job, a trial."""

    id: str
    experiment_id: str
    name: str
    status: RunStatus
    created_at: int
    start_time: int | None = None
    end_time: int | None = None
    parent_id: str | None = None
    kind: str = "run"
    description: str = ""
    user: str = ""
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    heartbeat_at: int | None = None
    error: str | None = None
    deleted: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.status, RunStatus):
            object.__setattr__(self, "status", RunStatus.parse(self.status))


@dataclasses.dataclass(frozen=True)
class ArtifactEntry(Record):
    """One file of an artifact tree: a path inside the tree and the blob holding its bytes."""

    path: str
    digest: str
    size: int


@dataclasses.dataclass(frozen=True)
class DataVersion(Record):
    """One immutable version of a data asset."""

    name: str
    version: str
    type: str
    source: str
    content_hash: str
    created_at: int
    description: str = ""
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    profile: dict[str, Any] | None = None
    archived: bool = False


@dataclasses.dataclass(frozen=True)
class RegisteredModel(Record):
    name: str
    created_at: int
    updated_at: int
    description: str = ""
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    aliases: dict[str, str] = dataclasses.field(default_factory=dict)
    latest_version: str | None = None


@dataclasses.dataclass(frozen=True)
class ModelVersion(Record):
    name: str
    version: str
    created_at: int
    source: str = ""
    run_id: str | None = None
    flavors: list[str] = dataclasses.field(default_factory=list)
    type: str = "custom_model"
    description: str = ""
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    aliases: list[str] = dataclasses.field(default_factory=list)
    signature: dict[str, Any] | None = None
    content_hash: str = ""
    archived: bool = False


@dataclasses.dataclass(frozen=True)
class LineageEdge(Record):
    """A run read a data version (``input``) or produced a model version (``output``)."""

    run_id: str
    direction: str
    asset_kind: str
    name: str
    version: str


@dataclasses.dataclass(frozen=True)
class Token(Record):
    id: str
    name: str
    role: str
    created_at: int
    last_used_at: int | None = None
    revoked: bool = False


@dataclasses.dataclass(frozen=True)
class Page(Record):
    """One page of a listing; ``next_page_token`` is None on the last page."""

    items: list[Any]
    next_page_token: str | None = None
