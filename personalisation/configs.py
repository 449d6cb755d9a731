"""The pipeline's configuration objects as a worker builds them from settings."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from core.settings import Settings, parse_weights
from ranking.blend import BlendConfig
from ranking.item_index import ItemIndex
from ranking.profile import ProfileConfig
from ranking.recommend_config import RecommendConfig
from trends.tracker import TrendConfig, TrendTracker


def ranking_configs(settings: Settings) -> tuple[ProfileConfig, RecommendConfig]:
    """The profile and ranking configuration a worker runs with ``settings``."""
    short_ms = settings.short_half_life_minutes * 60_000
    purchase_ms = settings.purchase_half_life_days * 86_400_000
    gap_ms = settings.session_gap_minutes * 60_000
    profile = ProfileConfig(
        short_half_life_ms=short_ms,
        long_half_life_ms=settings.long_half_life_days * 86_400_000,
        purchase_half_life_ms=purchase_ms,
        session_gap_ms=gap_ms,
    )
    ranking = RecommendConfig(
        k=settings.recommendations_k,
        blend=BlendConfig(
            weights=parse_weights(settings.blend_weights),
            exclude_purchased=settings.exclude_purchased,
        ),
        short_half_life_ms=short_ms,
        history_half_life_ms=purchase_ms,
        diversity=settings.diversity,
        explore_share=settings.explore_share,
        hide_latest=settings.hide_latest,
        session_gap_ms=gap_ms,
        learn_min_clicks=settings.learn_blend_min_clicks if settings.learn_blend_weights else None,
    )
    return profile, ranking


def trend_tracker(settings: Settings, index: ItemIndex) -> TrendTracker:
    """The trend statistics of a worker, configured by ``settings``."""

    def title_of(item_id: str) -> str | None:
        info = index.info(item_id)
        return info.title if info else None

    cfg = TrendConfig(
        window_ms=int(settings.trend_window_seconds * 1000),
        min_support=settings.trend_min_support,
        min_ratio=settings.trend_min_ratio,
        min_z=settings.trend_min_z,
        warmup_windows=settings.trend_warmup_windows,
        grace_ms=int(settings.trend_grace_seconds * 1000),
    )
    return TrendTracker(cfg, ZoneInfo(settings.shop_timezone), title_of)
