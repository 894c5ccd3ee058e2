//! "Did you mean": names close to a mistyped one, for error messages.
use std::fmt;

/// Names close to a mistyped word; displays as ` (similar: a, b)`, or as nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Similar(pub Vec<String>);

impl Similar {
    /// The names in `names` close to `word` (a few edits apart, or a prefix either way).
    pub fn to<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Similar {
        Similar(
            names
                .into_iter()
                .filter(|n| {
                    let d = edit_distance(word, n);
                    (d <= 1.max(word.len() / 3) && d < word.len())
                        || (word.len() > 2 && (n.starts_with(word) || word.starts_with(*n)))
                })
                .map(String::from)
                .collect(),
        )
    }
}

impl fmt::Display for Similar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " (similar: {})", self.0.join(", "))
        }
    }
}

/// Optimal string alignment distance (a transposition counts as one edit).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::Similar;

    fn similar(word: &str, names: &[&str]) -> String {
        Similar::to(word, names.iter().copied()).to_string()
    }

    #[test]
    fn similar_names_are_suggested() {
        assert_eq!(
            similar("storage-cahce", &["storage-cache", "http-port"]),
            " (similar: storage-cache)"
        );
        assert_eq!(similar("zzz", &["storage-cache"]), "");
        assert_eq!(similar("prot", &["port", "name"]), " (similar: port)");
        assert_eq!(similar("q", &["x", "y"]), "");
        assert_eq!(similar("ab", &["abc"]), " (similar: abc)");
    }
}
