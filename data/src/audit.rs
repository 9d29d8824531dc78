//! Leak audit: exact (byte-identical) duplicate images across and within splits.
//!
//! Every image is hashed (64-bit SipHash); images whose hashes collide are confirmed by
//! comparing bytes, so the report never counts a hash collision as a duplicate. Identical
//! images are gathered into [`DuplicateGroup`]s; counts are derived from the groups, so memory
//! stays linear in the number of images even if thousands of images are identical.

use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hasher as _};

use crate::idx::MNIST_IMAGE_BYTES;

/// How many example groups [`LeakReport`]'s `Display` shows.
const EXAMPLES: usize = 5;

/// One split as seen by the audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitSummary {
    /// The split's name as given.
    pub name: String,
    /// Number of whole images audited.
    pub images: usize,
    /// Bytes after the last whole image (not audited; 0 for well-formed input).
    pub trailing_bytes: usize,
    /// Pairs `(i, j)`, `i < j`, of byte-identical images within this split.
    pub duplicate_pairs: u64,
}

/// Duplicates between two splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossSummary {
    /// Index of the first split (into [`LeakReport::splits`]).
    pub a: usize,
    /// Index of the second split (`a < b`).
    pub b: usize,
    /// Pairs (image of `a`, image of `b`) that are byte-identical.
    pub pairs: u64,
    /// Images of `a` that also appear in `b`.
    pub images_a: usize,
    /// Images of `b` that also appear in `a`.
    pub images_b: usize,
}

/// A set of two or more byte-identical images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateGroup {
    /// `(split index, image index)` of every member, sorted.
    pub members: Vec<(usize, usize)>,
}

/// Result of [`leak_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakReport {
    /// Per split, in input order.
    pub splits: Vec<SplitSummary>,
    /// Per pair of splits `a < b`, in order.
    pub cross: Vec<CrossSummary>,
    /// Every group of identical images, sorted by first member.
    pub groups: Vec<DuplicateGroup>,
}

impl LeakReport {
    /// Identical pairs between the splits named `a` and `b` (first splits with those names;
    /// 0 if either name is unknown or they are the same split).
    pub fn cross_count(&self, a: &str, b: &str) -> u64 {
        let (Some(ia), Some(ib)) = (self.index_of(a), self.index_of(b)) else {
            return 0;
        };
        let (lo, hi) = (ia.min(ib), ia.max(ib));
        self.cross
            .iter()
            .find(|c| c.a == lo && c.b == hi)
            .map_or(0, |c| c.pairs)
    }

    /// Identical pairs within the split named `name` (0 if unknown).
    pub fn within_count(&self, name: &str) -> u64 {
        self.index_of(name)
            .map_or(0, |i| self.splits[i].duplicate_pairs)
    }

    /// Identical pairs across all pairs of splits.
    pub fn total_cross(&self) -> u64 {
        self.cross.iter().map(|c| c.pairs).sum()
    }

    /// Whether no image appears in two different splits (duplicates within a split are allowed).
    pub fn is_clean(&self) -> bool {
        self.total_cross() == 0
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.splits.iter().position(|s| s.name == name)
    }
}

impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leak audit (byte-identical images):")?;
        for s in &self.splits {
            write!(f, " {} {} images;", s.name, s.images)?;
        }
        writeln!(f)?;
        for c in &self.cross {
            writeln!(
                f,
                "  {} x {}: {} identical pairs ({} {} images, {} {} images)",
                self.splits[c.a].name,
                self.splits[c.b].name,
                c.pairs,
                c.images_a,
                self.splits[c.a].name,
                c.images_b,
                self.splits[c.b].name,
            )?;
        }
        for s in &self.splits {
            writeln!(
                f,
                "  within {}: {} identical pairs",
                s.name, s.duplicate_pairs
            )?;
            if s.trailing_bytes != 0 {
                writeln!(
                    f,
                    "  warning: {} has {} trailing bytes after its last whole image (not audited)",
                    s.name, s.trailing_bytes
                )?;
            }
        }
        for g in self.groups.iter().take(EXAMPLES) {
            let members: Vec<String> = g
                .members
                .iter()
                .map(|&(s, i)| format!("{}#{i}", self.splits[s].name))
                .collect();
            writeln!(f, "  e.g. identical: {}", members.join(" = "))?;
        }
        if self.groups.len() > EXAMPLES {
            writeln!(f, "  ... {} groups in all", self.groups.len())?;
        }
        if self.is_clean() {
            write!(f, "  verdict: clean, no image appears in two splits")
        } else {
            write!(
                f,
                "  verdict: LEAK, {} identical pairs across splits",
                self.total_cross()
            )
        }
    }
}

/// Audits MNIST-sized (784-byte) images; each split is `(name, n * 784 bytes)`.
pub fn leak_audit(splits: &[(&str, &[u8])]) -> LeakReport {
    leak_audit_with_len(splits, MNIST_IMAGE_BYTES)
}

/// Audits images of `image_len` bytes (a trailing partial image is reported, not audited;
/// `image_len == 0` audits nothing).
pub fn leak_audit_with_len(splits: &[(&str, &[u8])], image_len: usize) -> LeakReport {
    let image = |s: usize, i: usize| &splits[s].1[i * image_len..(i + 1) * image_len];
    let counts: Vec<usize> = splits
        .iter()
        .map(|(_, d)| d.len().checked_div(image_len).unwrap_or(0))
        .collect();

    let mut buckets: HashMap<u64, Vec<(usize, usize)>> =
        HashMap::with_capacity(counts.iter().sum());
    for (s, &n) in counts.iter().enumerate() {
        for i in 0..n {
            let mut h = DefaultHasher::new();
            h.write(image(s, i));
            buckets.entry(h.finish()).or_default().push((s, i));
        }
    }

    // Confirm by bytes: split each colliding bucket into classes of identical images.
    let mut groups = Vec::new();
    for members in buckets.into_values().filter(|m| m.len() > 1) {
        let mut classes: Vec<Vec<(usize, usize)>> = Vec::new();
        for m in members {
            match classes
                .iter_mut()
                .find(|c| image(c[0].0, c[0].1) == image(m.0, m.1))
            {
                Some(c) => c.push(m),
                None => classes.push(vec![m]),
            }
        }
        groups.extend(
            classes
                .into_iter()
                .filter(|c| c.len() > 1)
                .map(|mut members| {
                    members.sort_unstable();
                    DuplicateGroup { members }
                }),
        );
    }
    groups.sort_unstable_by(|x, y| x.members[0].cmp(&y.members[0]));

    let k = splits.len();
    let mut within = vec![0u64; k];
    let mut cross = Vec::new();
    for a in 0..k {
        for b in a + 1..k {
            cross.push(CrossSummary {
                a,
                b,
                pairs: 0,
                images_a: 0,
                images_b: 0,
            });
        }
    }
    let mut per_split = vec![0usize; k];
    for g in &groups {
        per_split.iter_mut().for_each(|c| *c = 0);
        for &(s, _) in &g.members {
            per_split[s] += 1;
        }
        for (s, &c) in per_split.iter().enumerate() {
            within[s] += (c as u64) * (c as u64).saturating_sub(1) / 2;
        }
        for c in &mut cross {
            let (na, nb) = (per_split[c.a], per_split[c.b]);
            if na > 0 && nb > 0 {
                c.pairs += na as u64 * nb as u64;
                c.images_a += na;
                c.images_b += nb;
            }
        }
    }

    LeakReport {
        splits: splits
            .iter()
            .zip(&counts)
            .zip(within)
            .map(|(((name, data), &images), duplicate_pairs)| SplitSummary {
                name: (*name).to_owned(),
                images,
                trailing_bytes: data.len() - images * image_len,
                duplicate_pairs,
            })
            .collect(),
        cross,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` distinct images of `len` bytes derived from `seed`.
    fn distinct(n: usize, len: usize, seed: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(n * len);
        for i in 0..n {
            let mut x = seed.wrapping_mul(2_654_435_761) ^ (i as u32).wrapping_mul(40_503);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                out.push(x as u8);
            }
        }
        out
    }

    fn copy_image(dst: &mut [u8], di: usize, src: &[u8], si: usize) {
        let l = MNIST_IMAGE_BYTES;
        dst[di * l..(di + 1) * l].copy_from_slice(&src[si * l..(si + 1) * l]);
    }

    #[test]
    fn disjoint_splits_are_clean() {
        let train = distinct(200, MNIST_IMAGE_BYTES, 1);
        let test = distinct(50, MNIST_IMAGE_BYTES, 2);
        let r = leak_audit(&[("train", &train), ("test", &test)]);
        assert!(r.is_clean());
        assert_eq!(r.total_cross(), 0);
        assert_eq!(r.within_count("train"), 0);
        assert_eq!(r.within_count("test"), 0);
        assert!(r.groups.is_empty());
        assert_eq!((r.splits[0].images, r.splits[1].images), (200, 50));
        assert!(r.to_string().contains("clean"), "{r}");
    }

    #[test]
    fn finds_planted_duplicates() {
        let mut train = distinct(100, MNIST_IMAGE_BYTES, 3);
        let mut test = distinct(30, MNIST_IMAGE_BYTES, 4);
        let val = distinct(10, MNIST_IMAGE_BYTES, 5);
        // test#7 = train#42, test#8 = train#42 (one train image leaked twice), test#9 = train#3.
        let src = train.clone();
        copy_image(&mut test, 7, &src, 42);
        copy_image(&mut test, 8, &src, 42);
        copy_image(&mut test, 9, &src, 3);
        // A duplicate within train: train#99 = train#0.
        copy_image(&mut train, 99, &src, 0);
        let r = leak_audit(&[("train", &train), ("test", &test), ("val", &val)]);
        assert_eq!(r.cross_count("train", "test"), 3);
        assert_eq!(r.cross_count("test", "train"), 3);
        assert_eq!(r.cross_count("train", "val"), 0);
        assert_eq!(r.cross_count("test", "val"), 0);
        assert_eq!(r.within_count("train"), 1);
        assert_eq!(r.within_count("test"), 1); // test#7 = test#8
        assert!(!r.is_clean());
        let c = &r.cross[0];
        assert_eq!((c.a, c.b, c.images_a, c.images_b), (0, 1, 2, 3));
        assert_eq!(
            r.groups,
            vec![
                DuplicateGroup {
                    members: vec![(0, 0), (0, 99)]
                },
                DuplicateGroup {
                    members: vec![(0, 3), (1, 9)]
                },
                DuplicateGroup {
                    members: vec![(0, 42), (1, 7), (1, 8)]
                },
            ]
        );
        let text = r.to_string();
        assert!(text.contains("train x test: 3 identical pairs"), "{text}");
        assert!(text.contains("train#42 = test#7 = test#8"), "{text}");
        assert!(text.contains("LEAK"), "{text}");
    }

    #[test]
    fn many_identical_images_and_odd_input() {
        // 1000 blank images in one split, 500 in another: counts are arithmetic, not listed.
        let a = vec![0u8; 1000 * MNIST_IMAGE_BYTES];
        let b = vec![0u8; 500 * MNIST_IMAGE_BYTES + 5];
        let r = leak_audit(&[("a", &a), ("b", &b)]);
        assert_eq!(r.cross_count("a", "b"), 500_000);
        assert_eq!(r.within_count("a"), 1000 * 999 / 2);
        assert_eq!(r.splits[1].trailing_bytes, 5);
        assert_eq!(r.groups.len(), 1);
        assert!(r.to_string().contains("trailing bytes"));
        // Zero-length images and no splits must not panic.
        let r = leak_audit_with_len(&[("a", &a)], 0);
        assert_eq!(r.splits[0].images, 0);
        assert!(leak_audit(&[]).is_clean());
    }
}
