"""What ``tools.prune_runs`` takes for a run's leftovers: exactly the names ``isolated`` gives."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.settings import Settings
from core.topics import Topics
from feature_store.keys import Keys
from tools.harness import RUN_LABELS, isolated
from tools.prune_runs import run_of_key, run_of_topic


@pytest.mark.parametrize("label", RUN_LABELS)
def test_every_name_of_an_isolated_run_is_found_as_that_run(label: str) -> None:
    names = isolated(label)
    run = names["redis_prefix"]
    settings = Settings(topic_prefix=names["topic_prefix"], app_id=names["app_id"])
    topics = Topics.from_settings(settings)
    for topic in [*topics.inputs, topics.recommendations, topics.dead_letter]:
        assert run_of_topic(topic) == run
    assert run_of_topic(f"{names['app_id']}-__assignor-__leader") == run
    assert run_of_key(f"{Keys(run).prefix}:u:{{a}}") == run


def test_a_label_outside_the_list_is_refused() -> None:
    with pytest.raises(ValueError, match="label"):
        isolated("shop")


@given(st.from_regex(r"[a-z0-9.:{}_-]{1,30}", fullmatch=True))
def test_a_name_not_shaped_like_a_run_is_never_taken(name: str) -> None:
    shaped = re.fullmatch(rf"(pulse-)?({'|'.join(RUN_LABELS)})[0-9a-f]{{8}}[.:-].*", name)
    if not shaped:
        assert run_of_topic(name) is None and run_of_key(name) is None


def test_the_shops_own_names_are_never_taken() -> None:
    topics = Topics.from_settings(Settings())
    for topic in [*topics.inputs, topics.recommendations, topics.dead_letter, "pulse-__assignor"]:
        assert run_of_topic(topic) is None
    assert run_of_key("pulse:u:{it0123abcd}") is None
