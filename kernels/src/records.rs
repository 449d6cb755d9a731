//! The state codec's records (`feature_store/state_codec.py`): a shopper's recent items and
//! purchases, packed and unpacked without a Python step per field. The codec's
//! `pack_records_reference`/`unpack_records_reference` are the definition property tests hold
//! these to, byte for byte and value for value.
//!
//! Layout (little-endian): the numbers of recent items and of purchases (u16 each), then each
//! recent item (its id's UTF-8 length as u16, the id, the time in ms as i64), then each purchase
//! (the id likewise, the count in 1e-4 units as u32, the last time in ms as i64).

const COUNT_UNIT: f64 = 10_000.0;

/// A purchase: the item, its decayed count of occasions, the last one's time in ms.
pub type Purchase<'a> = (&'a str, f64, i64);

fn put_id(out: &mut Vec<u8>, item: &str) -> Result<(), String> {
    let n = u16::try_from(item.len())
        .map_err(|_| format!("an item id of {} bytes cannot be stored (at most 65,535)", item.len()))?;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(item.as_bytes());
    Ok(())
}

/// A count in 1e-4 units: `round(count * 10000)` as Python rounds (half to even), which must
/// fit a u32.
fn count_units(count: f64) -> Result<u32, String> {
    let units = (count * COUNT_UNIT).round_ties_even();
    if units.is_finite() && (0.0..=f64::from(u32::MAX)).contains(&units) {
        Ok(units as u32)
    } else {
        Err(format!("a purchase count of {count} cannot be stored (0 to 429,496.7295)"))
    }
}

pub fn pack(recent: &[(&str, i64)], purchases: &[Purchase<'_>]) -> Result<Vec<u8>, String> {
    let many = |what: &str, n: usize| format!("{n} {what} cannot be stored (at most 65,535)");
    let n_recent = u16::try_from(recent.len()).map_err(|_| many("recent items", recent.len()))?;
    let n_purchases =
        u16::try_from(purchases.len()).map_err(|_| many("purchases", purchases.len()))?;
    let mut out = Vec::with_capacity(4 + 24 * (recent.len() + purchases.len()));
    out.extend_from_slice(&n_recent.to_le_bytes());
    out.extend_from_slice(&n_purchases.to_le_bytes());
    for &(item, ts) in recent {
        put_id(&mut out, item)?;
        out.extend_from_slice(&ts.to_le_bytes());
    }
    for &(item, count, last) in purchases {
        put_id(&mut out, item)?;
        out.extend_from_slice(&count_units(count)?.to_le_bytes());
        out.extend_from_slice(&last.to_le_bytes());
    }
    Ok(out)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.data.len());
        let end = end.ok_or_else(|| format!("the state's records end early (at byte {})", self.at))?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("take gives N bytes"))
    }

    fn id(&mut self) -> Result<&'a str, String> {
        let n = u16::from_le_bytes(self.array()?) as usize;
        let at = self.at;
        std::str::from_utf8(self.take(n)?).map_err(|_| format!("an item id at byte {at} is not UTF-8"))
    }
}

/// The records starting at `offset` of `data`, and the offset after them.
pub type Unpacked<'a> = (Vec<(&'a str, i64)>, Vec<Purchase<'a>>, usize);

pub fn unpack(data: &[u8], offset: usize) -> Result<Unpacked<'_>, String> {
    let mut r = Reader { data, at: offset };
    let n_recent = u16::from_le_bytes(r.array()?) as usize;
    let n_purchases = u16::from_le_bytes(r.array()?) as usize;
    let mut recent = Vec::with_capacity(n_recent);
    for _ in 0..n_recent {
        let item = r.id()?;
        recent.push((item, i64::from_le_bytes(r.array()?)));
    }
    let mut purchases = Vec::with_capacity(n_purchases);
    for _ in 0..n_purchases {
        let item = r.id()?;
        let units = u32::from_le_bytes(r.array()?);
        purchases.push((item, f64::from(units) / COUNT_UNIT, i64::from_le_bytes(r.array()?)));
    }
    Ok((recent, purchases, r.at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let recent = [("a", 5i64), ("é", -1)];
        let purchases = [("b", 1.25, 7i64)];
        let packed = pack(&recent, &purchases).unwrap();
        assert_eq!(&packed[..6], &[2, 0, 1, 0, 1, 0]);
        let (r, p, end) = unpack(&packed, 0).unwrap();
        assert_eq!(r, recent.to_vec());
        assert_eq!(p, purchases.to_vec());
        assert_eq!(end, packed.len());
        assert!(unpack(&packed[..packed.len() - 1], 0).is_err());
        assert!(pack(&[], &[("c", -1.0, 0)]).is_err());
        assert!(pack(&[], &[("c", f64::NAN, 0)]).is_err());
    }
}
