//! Pulse's compiled kernels, for the parts of a worker's hot path that pure Python cannot
//! make fast enough (measured: `bench/pipeline_profile.py`). Each has a pure-Python reference
//! in the `ranking` package that property tests hold it to.

pub mod blend;
pub mod fsum;
pub mod quant;
pub mod records;
pub mod sessions;
pub mod topk;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::intern;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple};

/// A float32 vector (any contiguous buffer of them) as int8 codes and a scale
/// (`kernels/src/quant.rs`).
#[pyfunction]
fn quantise_i8<'py>(py: Python<'py>, values: PyBuffer<f32>) -> PyResult<(Bound<'py, PyBytes>, f64)> {
    if !values.is_c_contiguous() {
        return Err(PyValueError::new_err("values must be a contiguous float32 array"));
    }
    let (codes, scale) = quant::quantise(&values.to_vec(py)?);
    Ok((PyBytes::new(py, &codes), scale))
}

/// int8 codes and their scale back to float32 values, as a bytearray (writable, for
/// `numpy.frombuffer`).
#[pyfunction]
fn dequantise_i8<'py>(py: Python<'py>, codes: &[u8], scale: f64) -> Bound<'py, PyByteArray> {
    let values = quant::dequantise(codes, scale);
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    PyByteArray::new(py, &bytes)
}

/// The `k` best `(column, score)` of each row of `scores` (a C-contiguous float32 matrix),
/// best first, ties to the lower column, skipping columns whose `available` byte is 0, the
/// row's `excludes` and scores that are NaN or minus infinity; the GIL is released meanwhile.
#[pyfunction]
fn top_k(
    py: Python<'_>,
    scores: PyBuffer<f32>,
    available: PyBuffer<u8>,
    k: usize,
    excludes: Vec<Vec<usize>>,
) -> PyResult<Vec<Vec<(usize, f64)>>> {
    Ok(select(py, &scores, &available, k, &excludes)?
        .into_iter()
        .map(|row| row.into_iter().map(|(c, s)| (c, f64::from(s))).collect())
        .collect())
}

/// A row of `top_k_labelled`: `(label, score)` pairs.
type Labelled<'py> = Vec<(Bound<'py, PyAny>, f64)>;

/// `top_k` with each column named by its entry in `labels` (one for every column):
/// `(label, score)` pairs, made here rather than by a Python loop over the columns.
#[pyfunction]
fn top_k_labelled<'py>(
    py: Python<'py>,
    scores: PyBuffer<f32>,
    available: PyBuffer<u8>,
    k: usize,
    excludes: Vec<Vec<usize>>,
    labels: Bound<'py, PyList>,
) -> PyResult<Vec<Labelled<'py>>> {
    if scores.dimensions() == 2 && labels.len() < scores.shape()[1] {
        return Err(PyValueError::new_err("labels must name every column"));
    }
    select(py, &scores, &available, k, &excludes)?
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(c, s)| Ok((labels.get_item(c)?, f64::from(s))))
                .collect::<PyResult<Vec<_>>>()
        })
        .collect()
}

/// The checks and the selection `top_k` and `top_k_labelled` share.
fn select(
    py: Python<'_>,
    scores: &PyBuffer<f32>,
    available: &PyBuffer<u8>,
    k: usize,
    excludes: &[Vec<usize>],
) -> PyResult<Vec<Vec<(usize, f32)>>> {
    if scores.dimensions() != 2 || !scores.is_c_contiguous() {
        return Err(PyValueError::new_err("scores must be a C-contiguous 2-d float32 array"));
    }
    let (m, n) = (scores.shape()[0], scores.shape()[1]);
    if available.dimensions() != 1 || !available.is_c_contiguous() || available.item_count() < n
    {
        return Err(PyValueError::new_err("available must hold a byte for every column"));
    }
    if excludes.len() != m {
        return Err(PyValueError::new_err("excludes must hold one list per row"));
    }
    if excludes.iter().flatten().any(|&col| col >= n) {
        return Err(PyValueError::new_err("an excluded column is out of range"));
    }
    Ok(py.detach(|| {
        // Safety: both buffers stay held (and unchanged: their owner waits) for the call.
        let matrix =
            unsafe { std::slice::from_raw_parts(scores.buf_ptr() as *const f32, m * n) };
        let mask = unsafe { std::slice::from_raw_parts(available.buf_ptr() as *const u8, n) };
        topk::top_k(matrix, n, mask, k, excludes)
    }))
}

/// A head entry: the item, its score, the source's name and the reason.
type Head<'py> = (Bound<'py, PyString>, f64, Bound<'py, PyString>, Bound<'py, PyAny>);

/// A proposal held while the blend borrows its item's text: the object, its item, its score.
type Held<'py> = (Bound<'py, PyAny>, Bound<'py, PyString>, f64);

/// The blend of a shopper's sources, lifted by their categories (`kernels/src/blend.rs`):
/// `sources` holds `(name, weight, proposals)`, each proposal with `item_id` (str), `score` and
/// `reason`; `infos` maps items to their info (its `category`: None or empty for none, as
/// `ranking.item_index.ItemInfo`), `affinities` the shopper's categories to their affinity,
/// which sum to `affinity_total` (0 or less, or `boost` 0: no lift). None where a weight or
/// score is not finite or an item id is not a str: Python decides those.
#[pyfunction]
#[pyo3(signature = (sources, floor, limit, boost, infos, affinities, affinity_total))]
#[allow(clippy::too_many_arguments)]
fn blend_head<'py>(
    py: Python<'py>,
    sources: Vec<(Bound<'py, PyString>, f64, Bound<'py, PyList>)>,
    floor: f64,
    limit: Option<usize>,
    boost: f64,
    infos: Bound<'py, PyAny>,
    affinities: Bound<'py, PyDict>,
    affinity_total: f64,
) -> PyResult<Option<Vec<Head<'py>>>> {
    let (item_attr, score_attr) = (intern!(py, "item_id"), intern!(py, "score"));
    // The proposals and their item strings, held while the blend borrows their text.
    let mut held: Vec<Vec<Held<'py>>> = Vec::new();
    for (_, weight, proposals) in &sources {
        if !weight.is_finite() {
            return Ok(None);
        }
        let mut row = Vec::with_capacity(proposals.len());
        for proposal in proposals.iter() {
            let Ok(item) = proposal.getattr(item_attr)?.cast_into::<PyString>() else {
                return Ok(None);
            };
            let score: f64 = proposal.getattr(score_attr)?.extract()?;
            if !score.is_finite() {
                return Ok(None);
            }
            row.push((proposal, item, score));
        }
        held.push(row);
    }
    let mut view = Vec::with_capacity(held.len());
    for ((_, weight, _), row) in sources.iter().zip(&held) {
        let mut candidates = Vec::with_capacity(row.len());
        for (_, item, score) in row {
            candidates.push(blend::Candidate { item: item.to_str()?, score: *score });
        }
        view.push((*weight, candidates));
    }
    let lift = if affinity_total > 0.0 { boost } else { 0.0 };
    let category_attr = intern!(py, "category");
    let share = |entry: &blend::Blended<'_>| -> f64 {
        let item = &held[entry.source][entry.candidate].1;
        let Ok(info) = infos.get_item(item) else { return 0.0 };
        let Ok(category) = info.getattr(category_attr) else { return 0.0 };
        if category.is_none() || !category.is_truthy().unwrap_or(false) {
            return 0.0;
        }
        match affinities.get_item(category).ok().flatten() {
            Some(affinity) => affinity.extract::<f64>().unwrap_or(0.0) / affinity_total,
            None => 0.0,
        }
    };
    let head = blend::blend_head(&view, floor, limit.unwrap_or(usize::MAX), lift, share);
    let reason_attr = intern!(py, "reason");
    head.iter()
        .map(|entry| {
            let (proposal, item, _) = &held[entry.source][entry.candidate];
            let source = sources[entry.source].0.clone();
            Ok(Some((item.clone(), entry.score, source, proposal.getattr(reason_attr)?)))
        })
        .collect::<PyResult<Option<Vec<_>>>>()
}

/// A shopper's recent items `((item, ts_ms), ...)` and purchases `{item: (count, last_ms)}`
/// as the state codec stores them (`kernels/src/records.rs`); ValueError where one cannot be.
#[pyfunction]
fn pack_records<'py>(
    py: Python<'py>,
    recent: Vec<(Bound<'py, PyString>, i64)>,
    purchases: Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyBytes>> {
    // in the dict's order, as Python's loop reads it
    let purchases: Vec<(Bound<'py, PyString>, (f64, i64))> = purchases.items().extract()?;
    let items = recent.iter().map(|(item, ts)| Ok((item.to_str()?, *ts)));
    let items = items.collect::<PyResult<Vec<_>>>()?;
    let bought = purchases.iter().map(|(item, (count, last))| Ok((item.to_str()?, *count, *last)));
    let bought = bought.collect::<PyResult<Vec<_>>>()?;
    let packed = records::pack(&items, &bought).map_err(PyValueError::new_err)?;
    Ok(PyBytes::new(py, &packed))
}

/// The records at `offset` of a stored state: `(recent, purchases, offset after them)`, as
/// `pack_records` took them (counts to 1e-4); ValueError for records cut short or not UTF-8.
#[pyfunction]
fn unpack_records<'py>(
    py: Python<'py>,
    data: &[u8],
    offset: usize,
) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>, usize)> {
    let (recent, purchases, end) = records::unpack(data, offset).map_err(PyValueError::new_err)?;
    let recent = PyTuple::new(py, recent)?;
    let bought = PyDict::new(py);
    for (item, count, last) in purchases {
        bought.set_item(item, (count, last))?;
    }
    Ok((recent, bought, end))
}

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

    /// For each `(shopper, session)` query, in their order, the `n` best `(item, score,
    /// because)` of the sessions most like `session`; the GIL is released once for all of them
    /// (a thread that takes it back after each query waits for it each time the event loop
    /// holds it).
    fn neighbours_many(
        &self,
        py: Python<'_>,
        queries: Vec<(String, Vec<String>)>,
        n: usize,
    ) -> Vec<Vec<sessions::Found>> {
        let inner = &self.inner;
        py.detach(|| {
            queries
                .iter()
                .map(|(shopper, session)| inner.neighbours(shopper, session, n))
                .collect()
        })
    }
}

#[pymodule]
fn pulse_kernels(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySessionIndex>()?;
    m.add_function(wrap_pyfunction!(top_k, m)?)?;
    m.add_function(wrap_pyfunction!(top_k_labelled, m)?)?;
    m.add_function(wrap_pyfunction!(blend_head, m)?)?;
    m.add_function(wrap_pyfunction!(quantise_i8, m)?)?;
    m.add_function(wrap_pyfunction!(dequantise_i8, m)?)?;
    m.add_function(wrap_pyfunction!(pack_records, m)?)?;
    m.add_function(wrap_pyfunction!(unpack_records, m)?)?;
    Ok(())
}
