//! "Did you mean …?": the closest known name by edit distance.

/// The candidate closest to `typed`, if it is close enough to be a likely typo: at most one
/// edit for short names, about a third of the length for longer ones.
pub(crate) fn closest<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = typed.chars().count();
    let limit = (len / 3).max(1);
    // Distance is at least the difference in length: skipping those keeps a hostile file
    // of huge unknown names from costing quadratic time per name.
    if len > 2 * super::MAX_NAME_LEN {
        return None;
    }
    candidates
        .into_iter()
        .filter(|c| *c != typed && c.chars().count().abs_diff(len) <= limit)
        .map(|c| (distance(typed, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `help` text for a typo, if a close name exists.
pub(crate) fn did_you_mean<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(typed, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions), on
/// characters. Names are at most a few dozen characters, so the quadratic table is cheap.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos() {
        assert_eq!(distance("slow_ma", "slwo_ma"), 1);
        assert_eq!(distance("", "abc"), 3);
        let names = ["fast_ma", "slow_ma", "close"];
        assert_eq!(closest("slow_mа", names), Some("slow_ma"));
        assert_eq!(closest("clsoe", names), Some("close"));
        assert_eq!(closest("volume", names), None);
        assert_eq!(closest(&"x".repeat(100_000), names), None);
    }
}
