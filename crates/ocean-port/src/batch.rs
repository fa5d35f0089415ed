//! Packing entities into bulk requests by count and by encoded size.

/// `{"entities":[` and `]}` around the comma-joined entities.
pub const BULK_ENVELOPE_BYTES: usize = r#"{"entities":[]}"#.len();

/// Groups items, in order, so each group has at most `max_count` members and
/// its bulk body at most `max_bytes`. An item too big on its own gets a group
/// of its own: Port then answers for it alone.
pub fn plan_batches(sizes: &[usize], max_count: usize, max_bytes: usize) -> Vec<Vec<usize>> {
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_bytes = BULK_ENVELOPE_BYTES;
    for (index, &size) in sizes.iter().enumerate() {
        let added = size + usize::from(!current.is_empty());
        if !current.is_empty() && (current.len() >= max_count.max(1) || current_bytes + added > max_bytes) {
            batches.push(std::mem::take(&mut current));
            current_bytes = BULK_ENVELOPE_BYTES;
        }
        current_bytes += size + usize::from(!current.is_empty());
        current.push(index);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// The body of a bulk request from already-encoded entities.
pub fn bulk_body<'a>(encoded: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = Vec::with_capacity(4096);
    body.extend_from_slice(br#"{"entities":["#);
    for (i, entity) in encoded.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(entity);
    }
    body.extend_from_slice(b"]}");
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_by_count() {
        let batches = plan_batches(&[10; 45], 20, 1 << 20);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [20, 20, 5]);
    }

    #[test]
    fn splits_by_size_and_isolates_oversized_items() {
        let batches = plan_batches(&[400, 400, 400, 2_000, 100], 20, 1_000);
        assert_eq!(batches, vec![vec![0, 1], vec![2], vec![3], vec![4]]);
    }

    #[test]
    fn planned_bodies_fit_exactly() {
        let items: Vec<Vec<u8>> = (0..7).map(|i| vec![b'1'; 100 + i * 37]).collect();
        let sizes: Vec<usize> = items.iter().map(Vec::len).collect();
        let limit = 500;
        for batch in plan_batches(&sizes, 20, limit) {
            let body = bulk_body(batch.iter().map(|&i| items[i].as_slice()));
            assert!(body.len() <= limit || batch.len() == 1, "{} bytes", body.len());
        }
        let whole = bulk_body(items.iter().map(Vec::as_slice));
        let expected: usize = BULK_ENVELOPE_BYTES + sizes.iter().sum::<usize>() + sizes.len() - 1;
        assert_eq!(whole.len(), expected);
    }
}
