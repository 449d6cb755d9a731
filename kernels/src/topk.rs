//! The `k` best columns of each row of a score matrix: the selection step of the item index's
//! nearest-item search (`ranking/item_index.py`, whose `top_k_reference` is the definition
//! property tests hold this to). Best means the highest score, ties to the lower column (the
//! item indexed first); unavailable columns, excluded ones and scores that are NaN or minus
//! infinity are never returned.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    score: f32,
    col: usize,
}

impl Eq for Entry {}

// Greater means worse, so the heap's top is the worst entry kept and a sorted vector runs
// from the best.
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .partial_cmp(&self.score)
            .unwrap_or(Ordering::Equal)
            .then(self.col.cmp(&other.col))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One row: `(column, score)` best first, at most `k`.
pub fn row_top_k(row: &[f32], available: &[u8], k: usize, exclude: &[usize]) -> Vec<(usize, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let mut excluded: Vec<usize> = exclude.to_vec();
    excluded.sort_unstable();
    let available = &available[..row.len()];
    let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(k + 1);
    // What a score must beat to be kept: minus infinity until `k` are kept (NaN and minus
    // infinity never are), then the worst kept score. Columns come in rising order, so an equal
    // score never displaces the worst kept. Held here, not read off the heap, so that the loop
    // over the scores that do not make it (nearly all) is a comparison and a branch.
    let mut bar = f32::NEG_INFINITY;
    for (col, &score) in row.iter().enumerate() {
        // NaN fails the comparison too
        if !(score > bar) || available[col] == 0 || excluded.binary_search(&col).is_ok() {
            continue;
        }
        heap.push(Entry { score, col });
        if heap.len() > k {
            heap.pop();
        }
        if heap.len() == k {
            bar = heap.peek().map_or(f32::NEG_INFINITY, |worst| worst.score);
        }
    }
    heap.into_sorted_vec().into_iter().map(|e| (e.col, e.score)).collect()
}

/// Every row of a row-major `m x n` matrix.
pub fn top_k(
    scores: &[f32],
    n: usize,
    available: &[u8],
    k: usize,
    excludes: &[Vec<usize>],
) -> Vec<Vec<(usize, f32)>> {
    excludes
        .iter()
        .enumerate()
        .map(|(r, exclude)| row_top_k(&scores[r * n..(r + 1) * n], available, k, exclude))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_lower_column_and_masked_columns_never_come_back() {
        let row = [0.5, 0.9, 0.5, f32::NAN, 0.9, f32::NEG_INFINITY, 0.7];
        let available = [1, 1, 1, 1, 1, 1, 0];
        assert_eq!(row_top_k(&row, &available, 3, &[]), vec![(1, 0.9), (4, 0.9), (0, 0.5)]);
        assert_eq!(row_top_k(&row, &available, 3, &[1]), vec![(4, 0.9), (0, 0.5), (2, 0.5)]);
        assert_eq!(row_top_k(&row, &available, 10, &[]).len(), 4);
        assert!(row_top_k(&row, &available, 0, &[]).is_empty());
    }
}
