"""Exploration simulation: shoppers with known hidden tastes, three policies, one run.

    python -m bench.bandit_sim

300 simulated shoppers, each with a hidden click rate per category (one loved category around
0.3, the others 0.01-0.08). Each round one shopper is shown one item in a category chosen by the
policy: no exploration (greedy on the clicks seen so far), epsilon-greedy (0.1), or Thompson
sampling (``ranking.explore.ThompsonSampler``, one per shopper, prior Beta(1, 10)). Greedy and
epsilon-greedy rank categories by the click rate seen so far. Regret is the loved category's
rate minus the chosen one's. Writes bench/results/bandit.json and bandit.png.
"""

from __future__ import annotations

import argparse
import random
from typing import Any

import numpy as np

from bench.common import RESULTS, pyplot, write_json
from ranking.explore import ThompsonSampler

CATEGORIES = [f"c{i}" for i in range(8)]


def tastes(n: int, rng: random.Random) -> list[dict[str, float]]:
    out = []
    for _ in range(n):
        rates = {c: rng.uniform(0.01, 0.08) for c in CATEGORIES}
        rates[rng.choice(CATEGORIES)] = rng.uniform(0.25, 0.35)
        out.append(rates)
    return out


def simulate(policy: str, hidden: list[dict[str, float]], rounds: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    # A prior of a click rate near 9 % (shops' click rates are low): uniform priors make
    # Thompson sampling try every category far too often.
    samplers = [ThompsonSampler(CATEGORIES, prior=(1.0, 10.0)) for _ in hidden]
    regret, reward = np.zeros(rounds), np.zeros(rounds)
    for t in range(rounds):
        shopper = rng.randrange(len(hidden))
        s = samplers[shopper]
        if policy == "thompson":
            arm = s.choose(rng)
        else:
            explore = policy == "epsilon-greedy" and rng.random() < 0.1
            if explore:
                arm = rng.choice(CATEGORIES)
            else:
                # The click rate seen so far (0 for an untried category): no optimism.
                seen = {
                    c: s.clicks[c] / s.impressions[c] if s.impressions[c] else 0.0
                    for c in CATEGORIES
                }
                best = max(seen.values())
                arm = rng.choice([c for c in CATEGORIES if seen[c] == best])
        rate = hidden[shopper][arm]
        clicked = rng.random() < rate
        s.update(arm, clicked)
        reward[t] = clicked
        regret[t] = max(hidden[shopper].values()) - rate
    return {"cumulative_regret": np.cumsum(regret), "cumulative_reward": np.cumsum(reward)}


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--shoppers", type=int, default=300)
    p.add_argument("--rounds", type=int, default=60_000)
    args = p.parse_args()
    hidden = tastes(args.shoppers, random.Random(7))
    runs = {
        policy: simulate(policy, hidden, args.rounds, seed=11)
        for policy in ("no exploration", "epsilon-greedy", "thompson")
    }
    summary = {
        policy: {
            "clicks": int(r["cumulative_reward"][-1]),
            "regret": float(r["cumulative_regret"][-1]),
            "click_rate_last_10k": float(
                (r["cumulative_reward"][-1] - r["cumulative_reward"][-10_001]) / 10_000
            ),
        }
        for policy, r in runs.items()
    }
    for policy, row in summary.items():
        print(
            f"{policy:15} clicks {row['clicks']:,}  cumulative regret {row['regret']:,.0f}  "
            f"click rate over the last 10,000 rounds {row['click_rate_last_10k']:.3f}"
        )
    best_possible = float(np.mean([max(h.values()) for h in hidden]))
    print(f"(a shopper's loved category has a click rate of {best_possible:.3f} on average)")
    write_json(
        "bandit",
        {
            "shoppers": args.shoppers,
            "rounds": args.rounds,
            "policies": summary,
            "best_possible_rate": best_possible,
        },
    )
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for policy, r in runs.items():
        ax.plot(r["cumulative_regret"], label=policy)
    ax.set_xlabel("impressions")
    ax.set_ylabel("cumulative regret (clicks lost to the loved category)")
    ax.set_title(f"exploration over categories, {args.shoppers} simulated shoppers")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "bandit.png", dpi=100)
    print(f"wrote {RESULTS / 'bandit.json'} and {RESULTS / 'bandit.png'}")


if __name__ == "__main__":
    main()
