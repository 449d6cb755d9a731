//! The blend of a shopper's candidate sources and the lift of their favourite categories: the
//! head of `ranking.recommend.recommend`, whose Python (`ranking.blend.blend` followed by
//! `ranking.recommend.boost_categories`) is the definition property tests hold this to, float
//! for float.
//!
//! Each source's positive scores are divided by their sum or by `floor`, whichever is more, and
//! times the source's weight; an item's score is the sum of its parts in the order the sources
//! and their proposals come, and it names the source (and proposal) of its largest part, the
//! first of equal ones. The items are ranked by score, ties to the lower item id, cut to
//! `limit`, their scores rounded to 6 decimals. With a lift, an item of a category the shopper
//! likes has its rounded score times (1 + boost x the category's share), rounded again, and the
//! head is ranked again by the rounded scores (ties to the lower id).

use std::cmp::Ordering;
use std::collections::HashMap;

/// One candidate of a source.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub item: &'a str,
    pub score: f64,
}

/// One item of the head: its score, and which source and which of its candidates gave it the
/// largest part (the source's name and the candidate's reason name it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blended<'a> {
    pub item: &'a str,
    pub score: f64,
    pub source: usize,
    pub candidate: usize,
}

struct Sum {
    total: f64,
    best: f64,
    source: usize,
    candidate: usize,
}

/// Python's `round(x, 6)`: the decimal with 6 digits nearest to `x` (ties to even), as the
/// nearest double. Far from a tie, `x * 1e6` rounds to the same integer however its last bit
/// fell (below 2^30 its error is under 1.2e-7), and that integer over 1e6 is one correctly
/// rounded division; elsewhere the exact decimal formatting decides.
pub fn round6(x: f64) -> f64 {
    let scaled = x * 1e6;
    if scaled.abs() < 1_073_741_824.0 {
        let fraction = scaled - scaled.floor();
        if (fraction - 0.5).abs() > 1e-6 {
            return scaled.round() / 1e6;
        }
    }
    if !x.is_finite() {
        return x;
    }
    format!("{x:.6}").parse().unwrap_or(x)
}

fn by_score<'a>(a: &(&'a str, f64), b: &(&'a str, f64)) -> Ordering {
    b.1.partial_cmp(&a.1)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.0.cmp(b.0))
}

/// The blend of `sources` (each a weight and its candidates), best first, at most `limit`.
/// `share(entry)` is the lift's share for the entry's item (0: none); `boost` 0 lifts nothing.
pub fn blend_head<'a>(
    sources: &[(f64, Vec<Candidate<'a>>)],
    floor: f64,
    limit: usize,
    boost: f64,
    mut share: impl FnMut(&Blended<'a>) -> f64,
) -> Vec<Blended<'a>> {
    let mut sums: HashMap<&'a str, Sum> = HashMap::new();
    for (s, (weight, candidates)) in sources.iter().enumerate() {
        let weight = *weight;
        if weight <= 0.0 || !candidates.iter().any(|c| c.score > 0.0) {
            continue;
        }
        let sum = candidates
            .iter()
            .filter(|c| c.score > 0.0)
            .fold(0.0, |acc, c| acc + c.score);
        let total = if sum > floor { sum } else { floor };
        for (j, c) in candidates.iter().enumerate().filter(|(_, c)| c.score > 0.0) {
            let part = weight * c.score / total;
            sums.entry(c.item)
                .and_modify(|known| {
                    known.total += part;
                    if part > known.best {
                        (known.best, known.source, known.candidate) = (part, s, j);
                    }
                })
                .or_insert(Sum {
                    total: part,
                    best: part,
                    source: s,
                    candidate: j,
                });
        }
    }
    let mut ranked: Vec<(&'a str, f64)> =
        sums.iter().map(|(item, sum)| (*item, sum.total)).collect();
    ranked.sort_unstable_by(by_score);
    ranked.truncate(limit);
    let mut head: Vec<Blended<'a>> = ranked
        .into_iter()
        .map(|(item, total)| {
            let sum = &sums[item];
            Blended {
                item,
                score: round6(total),
                source: sum.source,
                candidate: sum.candidate,
            }
        })
        .collect();
    if boost > 0.0 {
        for entry in head.iter_mut() {
            let lift = share(entry);
            if lift != 0.0 {
                entry.score = round6(entry.score * (1.0 + boost * lift));
            }
        }
        head.sort_unstable_by(|a, b| by_score(&(a.item, a.score), &(b.item, b.score)));
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(item: &str, score: f64) -> Candidate<'_> {
        Candidate { item, score }
    }

    #[test]
    fn parts_add_up_and_the_largest_names_the_item() {
        let sources = vec![
            (1.0, vec![c("a", 3.0), c("b", 1.0)]),
            (2.0, vec![c("b", 1.0)]),
        ];
        let head = blend_head(&sources, 1.0, 10, 0.0, |_| 0.0);
        // a: 3/4; b: 1/4 + 2 x 1/1
        assert_eq!(
            head[0],
            Blended {
                item: "b",
                score: 2.25,
                source: 1,
                candidate: 0
            }
        );
        assert_eq!(
            head[1],
            Blended {
                item: "a",
                score: 0.75,
                source: 0,
                candidate: 0
            }
        );
    }

    #[test]
    fn rounding_matches_python_on_ties_and_far_from_them() {
        assert_eq!(round6(1.0 / 128.0), 0.007812); // a tie: to even
        assert_eq!(round6(3.0 / 128.0), 0.023438);
        assert_eq!(round6(0.1234565), 0.123456); // 0.12345649999999999...
        assert_eq!(round6(2.0 / 3.0), 0.666667);
        assert_eq!(
            round6(1e12 / 3.0),
            "333333333333.333333".parse::<f64>().unwrap()
        );
    }
}
