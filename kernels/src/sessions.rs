//! Session-kNN over the latest sessions a worker has seen: the compiled twin of
//! `ranking/sessions.py`'s `SessionIndex`, which stays the reference (property tests hold the
//! two to the same items, order, scores and reasons). The algorithm and its bounds are
//! described there; here item ids are numbered once (`codes`) and shoppers by a number of the
//! index's own, so postings name no one.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::fsum::fsum;

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub k: usize,
    pub sample: usize,
    pub candidates_from: usize,
    pub max_sessions: usize,
    pub postings: usize,
}

struct Session {
    shopper: String,
    items: Vec<u32>,
    ts_ms: i64,
    tick: u64,
}

pub struct Index {
    cfg: Config,
    codes: HashMap<String, u32>,
    names: Vec<String>,
    sessions: HashMap<u64, Session>,
    numbers: HashMap<String, u64>,
    // least recently active first
    lru: BTreeMap<u64, u64>,
    postings: Vec<VecDeque<u64>>,
    next_number: u64,
    next_tick: u64,
}

/// An item of the sessions most like the shopper's: its id, summed similarity, and the
/// shopper's session item the most similar session holding it shares.
pub type Found = (String, f64, String);

impl Index {
    pub fn new(cfg: Config) -> Self {
        Index {
            cfg,
            codes: HashMap::new(),
            names: Vec::new(),
            sessions: HashMap::new(),
            numbers: HashMap::new(),
            lru: BTreeMap::new(),
            postings: Vec::new(),
            next_number: 0,
            next_tick: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn contains(&self, shopper: &str) -> bool {
        self.numbers.contains_key(shopper)
    }

    /// The shopper numbers in an item's posting, oldest first.
    pub fn posting(&self, item: &str) -> Vec<u64> {
        match self.codes.get(item) {
            Some(&code) => self.postings[code as usize].iter().copied().collect(),
            None => Vec::new(),
        }
    }

    fn code(&mut self, item: &str) -> u32 {
        if let Some(&code) = self.codes.get(item) {
            return code;
        }
        let code = self.names.len() as u32;
        self.codes.insert(item.to_owned(), code);
        self.names.push(item.to_owned());
        self.postings.push(VecDeque::new());
        code
    }

    fn take(&mut self, shopper: &str) -> Option<(u64, Session)> {
        let number = self.numbers.remove(shopper)?;
        let session = self.sessions.remove(&number)?;
        self.lru.remove(&session.tick);
        Some((number, session))
    }

    /// The shopper's current session is now `items` (latest event at `ts_ms`).
    pub fn observe(&mut self, shopper: &str, items: &[String], ts_ms: i64) {
        let known = self.take(shopper);
        let before: HashSet<u32> = known
            .as_ref()
            .map(|(_, s)| s.items.iter().copied().collect())
            .unwrap_or_default();
        let number = match &known {
            Some((number, _)) => *number,
            None => {
                self.next_number += 1;
                self.next_number - 1
            }
        };
        let mut now: Vec<u32> = Vec::with_capacity(items.len());
        for item in items {
            let code = self.code(item);
            if !now.contains(&code) {
                now.push(code);
            }
        }
        let ts_ms = match &known {
            Some((_, s)) => ts_ms.max(s.ts_ms),
            None => ts_ms,
        };
        for &code in now.iter().filter(|c| !before.contains(c)) {
            let posting = &mut self.postings[code as usize];
            posting.push_back(number);
            if posting.len() > self.cfg.postings {
                posting.pop_front();
            }
        }
        let tick = self.next_tick;
        self.next_tick += 1;
        self.lru.insert(tick, number);
        let session = Session { shopper: shopper.to_owned(), items: now, ts_ms, tick };
        self.sessions.insert(number, session);
        self.numbers.insert(shopper.to_owned(), number);
        while self.sessions.len() > self.cfg.max_sessions {
            let Some((_, oldest)) = self.lru.pop_first() else { break };
            if let Some(gone) = self.sessions.remove(&oldest) {
                self.numbers.remove(&gone.shopper);
            }
        }
    }

    /// Drop the shopper's session; postings keep only a number that names no one.
    pub fn forget(&mut self, shopper: &str) {
        self.take(shopper);
    }

    /// The `n` best items of the sessions most like `session` (oldest item first), other
    /// than the session's own.
    pub fn neighbours(&self, shopper: &str, session: &[String], n: usize) -> Vec<Found> {
        if session.is_empty() {
            return Vec::new();
        }
        let mut latest_first: Vec<&str> = Vec::with_capacity(session.len());
        for item in session.iter().rev() {
            if !latest_first.contains(&item.as_str()) {
                latest_first.push(item);
            }
        }
        let rank_of: HashMap<u32, usize> = latest_first
            .iter()
            .enumerate()
            .filter_map(|(rank, item)| self.codes.get(*item).map(|&code| (code, rank)))
            .collect();
        let norm = (latest_first.len() as f64).sqrt();
        let sample = self.cfg.sample;
        let mut numbers: HashSet<u64> = HashSet::new();
        for item in latest_first.iter().take(self.cfg.candidates_from) {
            if let Some(&code) = self.codes.get(*item) {
                numbers.extend(self.postings[code as usize].iter().rev().take(sample));
            }
        }
        let mut candidates: Vec<&Session> = numbers
            .iter()
            .filter_map(|number| self.sessions.get(number))
            .filter(|s| s.shopper != shopper)
            .collect();
        if candidates.len() > sample {
            // the most recently active of them
            candidates.sort_unstable_by(|a, b| {
                b.ts_ms.cmp(&a.ts_ms).then_with(|| b.shopper.cmp(&a.shopper))
            });
            candidates.truncate(sample);
        }
        let mut similar: Vec<(f64, &Session, usize)> = Vec::with_capacity(candidates.len());
        for other in candidates {
            let ranks: Vec<usize> = other.items.iter().filter_map(|c| rank_of.get(c).copied()).collect();
            if let Some(&share) = ranks.iter().min() {
                let overlap = fsum(ranks.iter().map(|&r| 1.0 / (1.0 + r as f64)));
                let sim = overlap / (norm * (other.items.len() as f64).sqrt());
                similar.push((sim, other, share));
            }
        }
        similar.sort_unstable_by(|a, b| {
            b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal).then_with(|| b.1.shopper.cmp(&a.1.shopper))
        });
        similar.truncate(self.cfg.k);
        let mut scores: HashMap<u32, (f64, usize)> = HashMap::new();
        for (sim, other, share) in &similar {
            for &item in &other.items {
                // best first: an item's reason is the share of the most similar session
                scores.entry(item).or_insert((0.0, *share)).0 += sim;
            }
        }
        for code in rank_of.keys() {
            scores.remove(code); // the session's own items are not news to the shopper
        }
        let mut top: Vec<(u32, f64, usize)> =
            scores.into_iter().map(|(code, (score, share))| (code, score, share)).collect();
        let names = &self.names;
        top.sort_unstable_by(|a, b| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(Ordering::Equal)
                .then_with(|| names[a.0 as usize].cmp(&names[b.0 as usize]))
        });
        top.truncate(n);
        top.into_iter()
            .map(|(code, score, share)| {
                (names[code as usize].clone(), score, latest_first[share].to_owned())
            })
            .collect()
    }
}
