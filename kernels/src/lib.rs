//! Pulse's compiled kernels, for the parts of a worker's hot path that pure Python cannot
//! make fast enough (measured: `bench/pipeline_profile.py`). Each has a pure-Python reference
//! in the `ranking` package that property tests hold it to.

pub mod fsum;
pub mod sessions;

use pyo3::prelude::*;

/// Session-kNN over the latest sessions a worker has seen (`ranking.sessions`).
#[pyclass(module = "pulse_kernels", name = "SessionIndex")]
struct PySessionIndex {
    inner: sessions::Index,
}

#[pymethods]
impl PySessionIndex {
    #[new]
    #[pyo3(signature = (k=100, sample=200, candidates_from=5, max_sessions=100_000, postings=500))]
    fn new(k: usize, sample: usize, candidates_from: usize, max_sessions: usize, postings: usize) -> Self {
        let cfg = sessions::Config { k, sample, candidates_from, max_sessions, postings };
        PySessionIndex { inner: sessions::Index::new(cfg) }
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, shopper: &str) -> bool {
        self.inner.contains(shopper)
    }

    fn observe(&mut self, shopper: &str, items: Vec<String>, ts_ms: i64) {
        self.inner.observe(shopper, &items, ts_ms);
    }

    fn forget(&mut self, shopper: &str) {
        self.inner.forget(shopper);
    }

    fn posting(&self, item: &str) -> Vec<u64> {
        self.inner.posting(item)
    }

    /// The `n` best `(item, score, because)` of the sessions most like `session`; the GIL is
    /// released while they are computed.
    fn neighbours(
        &self,
        py: Python<'_>,
        shopper: &str,
        session: Vec<String>,
        n: usize,
    ) -> Vec<sessions::Found> {
        let inner = &self.inner;
        py.detach(|| inner.neighbours(shopper, &session, n))
    }
}

#[pymodule]
fn pulse_kernels(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySessionIndex>()?;
    Ok(())
}
