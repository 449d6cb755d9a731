"""One frozen settings object, read once at the entry point and passed down.

Every field can be set from the environment with the ``PULSE_`` prefix, for example
``PULSE_KAFKA_BOOTSTRAP=broker:9092`` or ``PULSE_BATCH_MAX_SIZE=1000``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Sources that propose recommendation candidates: the blend weights and the exploration arms.
CANDIDATE_SOURCES = (
    "similar",
    "covisit",
    "sessions",
    "recent",
    "history",
    "trending",
    "category",
)
# Chosen on the validation spans of the next-click benchmark (bench/session_bench.py) for click
# streams; shops that only send purchases lean on history instead (bench/quality_bench.py).
DEFAULT_BLEND_WEIGHTS = (
    "similar=0.1,covisit=1,sessions=1,recent=1.5,history=0.8,trending=0.1,category=0.3"
)
DEFAULT_ADMIN_TOKEN = "change-me"
MIN_ADMIN_TOKEN_CHARS = 16


class Settings(BaseSettings):
    """Pulse's configuration; the defaults run against the local stack of ``infra/stack.sh``."""

    model_config = SettingsConfigDict(env_prefix="PULSE_", frozen=True, extra="ignore")

    @field_validator("blend_weights")
    @classmethod
    def _weights_parse(cls, value: str) -> str:
        parse_weights(value)
        return value

    @field_validator("shop_timezone")
    @classmethod
    def _timezone_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/London"
            ) from exc
        return value

    kafka_bootstrap: str = "127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    topic_prefix: str = Field(
        "pulse.", description="Prefix of every topic name; tests use a unique one per run."
    )
    redis_prefix: str = Field("pulse", description="First segment of every Redis key.")
    redis_cluster: bool = Field(
        False,
        description="PULSE_REDIS_URL names a node of a Redis Cluster: use the cluster client and "
        "write each batch by slot.",
    )
    app_id: str = Field("pulse", description="Kafka consumer group of the workers.")
    group_instance_id: str | None = Field(
        None,
        description="Static group membership: a worker restarted under the same id gets its "
        "partitions back at once (give each worker its own, e.g. its host name).",
    )
    session_timeout_seconds: float = Field(
        10.0, ge=6, le=300, description="A worker silent this long is taken out of the group."
    )
    heartbeat_interval_seconds: float = Field(3.0, gt=0, le=100)
    fetch_min_bytes: int = Field(
        65_536,
        ge=1,
        le=52_428_800,
        description="The least a worker's fetch from Kafka asks the broker to gather before it "
        "answers (or until PULSE_FETCH_MAX_WAIT_MS). Kafka's own default, 1 byte, had the "
        "consumer fetch a few events at a time and spend 0.08 to 0.12 of a core more at 2,000 "
        "clicks/s (README, Recommendations).",
    )
    fetch_max_wait_ms: int = Field(
        10,
        ge=0,
        le=60_000,
        description="The longest the broker holds a worker's fetch for PULSE_FETCH_MIN_BYTES: "
        "what an event may wait in Kafka when traffic is light. An idle worker fetches this "
        "often: 0.07 of a core at 10 ms, 0.03 at 100, 0.02 at Faust's 1,500 (README).",
    )
    partitions: int = Field(8, ge=1, le=1024, description="Partitions of topics Pulse creates.")
    replication_factor: int = Field(1, ge=1)

    batch_max_size: int = Field(500, ge=1, le=100_000)
    batch_max_wait_ms: int = Field(10, ge=1, le=60_000)
    event_loop: Literal["asyncio", "uvloop"] = Field(
        "uvloop",
        description="The worker's event loop: uvloop's (libuv, in C; README, Recommendations, "
        '"Measured") or Python\'s.',
    )

    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65_535)
    http_max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    http_max_batch_events: int = Field(1_000, ge=1)

    model_path: Path = Path("onnx_models")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    encoder_precision: Literal["auto", "fp32", "int8", "fp16"] = Field(
        "auto", description="auto: int8 on the CPU, fp16 (else fp32) on CUDA."
    )
    encoder_threads: int | None = Field(
        None,
        ge=0,
        description="ONNX Runtime intra-op threads; unset: all cores but one (the event "
        "loop's), at least 1; 0 = all.",
    )
    encoder_batch_max_size: int | None = Field(
        None, ge=1, le=4096, description="Texts per batch; unset: 64 on the CPU, 256 on CUDA."
    )
    encoder_batch_max_wait_ms: float = Field(5.0, gt=0, le=10_000)
    encoder_max_pending: int = Field(4096, ge=1)
    encoder_in_flight: int | None = Field(
        None, ge=1, le=64, description="Batches run at once; unset: 1 on the CPU, 2 on CUDA."
    )
    query_cache_size: int = Field(100_000, ge=1)
    max_event_ahead_seconds: float = Field(
        3600.0,
        gt=0,
        description="Events dated further ahead of the worker's clock are refused (bad_timestamp).",
    )
    user_ttl_days: float = Field(30.0, gt=0)
    personalise: bool = Field(True, description="Update shoppers and publish recommendations.")
    recommendations_k: int = Field(10, ge=1, le=100)
    exclude_purchased: bool = False
    diversity: float = Field(0.0, ge=0.0, le=1.0, description="MMR strength; 0 = off.")
    search_personalisation: float = Field(
        2.0,
        ge=0.0,
        le=4.0,
        description="How strongly GET /search orders results for the shopper; 0 = not at all.",
    )
    explore_share: float = Field(
        0.1, ge=0.0, le=1.0, description="Share of list slots given to exploration; 0 = off."
    )
    blend_weights: str = Field(
        DEFAULT_BLEND_WEIGHTS,
        description="Weight of each candidate source in the blend, as source=weight pairs.",
    )
    learn_blend_weights: bool = Field(
        True,
        description="Scale each source's weight by its click rate on the lists once there are "
        "learn_blend_min_clicks clicks on them.",
    )
    learn_blend_min_clicks: int = Field(500, ge=1)
    hide_latest: int = Field(
        0,
        ge=0,
        le=20,
        description="Keep the shopper's N latest items off their list (0: items of the session "
        "may come back, which is what shoppers click most on click streams).",
    )
    session_gap_minutes: float = Field(
        30.0, gt=0, description="A longer gap between a shopper's events starts a new session."
    )
    short_half_life_minutes: float = Field(30.0, gt=0)
    long_half_life_days: float = Field(30.0, gt=0)
    purchase_half_life_days: float = Field(
        180.0, gt=0, description="Half-life of a shopper's purchase history."
    )
    trends: bool = Field(True, description="Publish trend signals to the trends topic.")
    trend_window_seconds: float = Field(
        60.0, gt=0, le=86_400, description="Tumbling window of the trending counts (event time)."
    )
    trend_min_support: float = Field(10.0, ge=1, description="Fewest events in a window to trend.")
    trend_min_ratio: float = Field(3.0, ge=1, description="Least count / baseline to trend.")
    trend_min_z: float = Field(4.0, ge=0, description="Least Poisson z-score to trend.")
    trend_warmup_windows: int = Field(10, ge=1, description="Windows to learn before trending.")
    trend_grace_seconds: float = Field(
        30.0,
        ge=0,
        le=86_400,
        description="How far behind the newest event time an observation may reach its owner "
        "and still count (later ones are counted as late). Cover the event time that passes "
        "while a dead worker's partitions move to another (the session timeout and a "
        "rebalance).",
    )
    shop_timezone: str = Field("UTC", description="Time zone of the shop's peak hours.")
    admin_token: SecretStr = Field(
        SecretStr(DEFAULT_ADMIN_TOKEN),
        description="Bearer token of the admin routes (forgetting shoppers, data access, "
        "intent shifts, metrics when metrics_admin_only); a worker refuses to start with the "
        "default unless dev is set.",
    )
    dev: bool = Field(
        False, description="A development machine: a worker may start with the default token."
    )
    metrics_admin_only: bool = Field(False, description="GET /metrics needs the admin token.")
    gc_threshold: int = Field(
        100_000,
        ge=0,
        le=10_000_000,
        description="Allocations between two collections of the youngest objects in a worker "
        "(0: Python's default, 700). Nearly every object a worker makes is freed by its "
        "reference count, and what a batch leaves alive is frozen at its end "
        "(gc_full_pass_seconds), so above what one batch makes no collection runs; without the "
        "freezing, 10,000 was the measured best (core/heap.py).",
    )
    gc_full_pass_seconds: float = Field(
        60.0,
        ge=0,
        description="A worker freezes what each batch leaves alive out of the collector's passes "
        "and collects everything once this often (0: no freezing, the collector as Python has "
        "it; core/heap.py BatchHeap).",
    )
    numpy_threads: int = Field(
        1,
        ge=0,
        le=64,
        description="Threads of numpy's BLAS in a worker (0: the library's default, one per "
        "core). Its products are small per batch; more threads spin and take CPU from Kafka, "
        "Redis and other workers (bench/e2e_bench.py).",
    )
    forget_keep_days: float = Field(
        7.0,
        gt=0,
        description="How long the forget topic keeps a deletion (the shopper's id and when), so "
        "older events still in the input topics cannot bring the shopper back: at least the "
        "input topics' retention (Kafka's default is 7 days).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"


def parse_weights(text: str) -> tuple[tuple[str, float], ...]:
    """``"similar=1,history=0.8"`` as ``(("similar", 1.0), ("history", 0.8))``."""
    pairs = []
    for part in text.split(","):
        name, sep, number = part.strip().partition("=")
        if not sep or name not in CANDIDATE_SOURCES:
            raise ValueError(
                f"blend weight {part!r}: use source=weight with a source of {CANDIDATE_SOURCES}"
            )
        try:
            weight = float(number)
        except ValueError as exc:
            raise ValueError(f"blend weight {part!r}: {number!r} is not a number") from exc
        if weight < 0:
            raise ValueError(f"blend weight {part!r} is negative")
        pairs.append((name, weight))
    return tuple(pairs)


def admin_token_problem(settings: Settings) -> str | None:
    """Why a worker must not start with this admin token, with how to set one; None if fine."""
    token = settings.admin_token.get_secret_value()
    if settings.dev:
        return None
    how = (
        "set PULSE_ADMIN_TOKEN to a secret of at least "
        f"{MIN_ADMIN_TOKEN_CHARS} characters (for example the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or PULSE_DEV=true on "
        "a development machine"
    )
    if token == DEFAULT_ADMIN_TOKEN:
        return f"PULSE_ADMIN_TOKEN is the default {DEFAULT_ADMIN_TOKEN!r}: {how}"
    if len(token) < MIN_ADMIN_TOKEN_CHARS:
        return f"PULSE_ADMIN_TOKEN is shorter than {MIN_ADMIN_TOKEN_CHARS} characters: {how}"
    return None
