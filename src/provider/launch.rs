//! Batched launches: what replicas launched together by one RunInstances carry so that a
//! run killed at any moment leaves nothing a rerun cannot find.
//!
//! 1. The replicas of one instance block that share a launch specification go out in one
//!    RunInstances (MinCount = MaxCount = their number), with one ClientToken
//!    ([`batch_token`]) and every tag but the address in TagSpecifications, plus
//!    [`TAG_BATCH`](super::TAG_BATCH): `<block>[<indexes>] <token>`, e.g.
//!    `worker[0-198:2] sw-…` ([`BatchTag`]).
//! 2. AWS numbers the instances of one launch by AmiLaunchIndex, 0 to n-1: the k-th
//!    instance is the k-th index of the tag. Each then gets its `stackwright:address`.
//! 3. A refresh that finds a member of a batch without its address (a run killed between
//!    1 and 2) knows which address it was launched for, and the plan gives it its tag.

use sha2::{Digest, Sha256};

/// The most characters of a tag value AWS takes.
pub const MAX_TAG_VALUE: usize = 256;

/// The most replicas one expanded batch tag may name: a tag from elsewhere that names
/// millions is not believed.
const MAX_MEMBERS: usize = 10_000;

/// The batch tag of one launch: the block, the replica indexes in launch-index order, and
/// the launch's ClientToken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchTag {
    pub block: String,
    pub indexes: Vec<u32>,
    pub token: String,
}

impl BatchTag {
    /// The tag's value: `worker[0-5,7,9-19:2] sw-…`.
    pub fn value(&self) -> String {
        format!(
            "{}[{}] {}",
            self.block,
            encode_indexes(&self.indexes),
            self.token
        )
    }

    pub fn parse(value: &str) -> Option<BatchTag> {
        let (head, token) = value.rsplit_once(' ')?;
        let (block, rest) = head.split_once('[')?;
        let indexes = decode_indexes(rest.strip_suffix(']')?)?;
        if block.is_empty() || token.is_empty() || indexes.is_empty() {
            return None;
        }
        Some(BatchTag {
            block: block.to_string(),
            indexes,
            token: token.to_string(),
        })
    }

    /// The replica index of the instance launched with `launch_index`.
    pub fn index_of(&self, launch_index: i32) -> Option<u32> {
        usize::try_from(launch_index)
            .ok()
            .and_then(|i| self.indexes.get(i).copied())
    }
}

/// Indexes as runs of a constant step: `0-4` (0..=4), `0-198:2`, `7`; comma-separated.
/// Replicas spread round-robin over zones make one run per zone.
pub fn encode_indexes(indexes: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indexes.len() {
        let start = indexes[i];
        // The longest run with one step from here (a run of two is written as two items).
        let mut j = i + 1;
        if j < indexes.len() && indexes[j] > start {
            let step = indexes[j] - start;
            while j + 1 < indexes.len() && indexes[j + 1].checked_sub(indexes[j]) == Some(step) {
                j += 1;
            }
            if j - i >= 2 {
                let end = indexes[j];
                parts.push(if step == 1 {
                    format!("{start}-{end}")
                } else {
                    format!("{start}-{end}:{step}")
                });
                i = j + 1;
                continue;
            }
        }
        parts.push(start.to_string());
        i += 1;
    }
    parts.join(",")
}

/// The inverse of [`encode_indexes`]; `None` for anything else.
pub fn decode_indexes(text: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once(':') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
                if b < a || ((b - a) / step) as usize >= MAX_MEMBERS {
                    return None;
                }
                out.extend((a..=b).step_by(step as usize));
            }
            None => out.push(range.parse().ok()?),
        }
        if out.len() > MAX_MEMBERS {
            return None;
        }
    }
    Some(out)
}

/// The ClientToken of one launch: the same for the same members (their own tokens, which
/// name the stack, env, address and run) and the same launch specification, so a retry
/// after a lost answer is the same request to AWS; different for any other launch.
/// The run is part of it on purpose: AWS remembers a token after the instances are gone,
/// so a token without it would make a later apply of the same stack launch nothing.
pub fn batch_token<'a>(member_tokens: impl IntoIterator<Item = &'a str>, spec: &str) -> String {
    let mut hasher = Sha256::new();
    for t in member_tokens {
        hasher.update(t.as_bytes());
        hasher.update(b"\n");
    }
    hasher.update(spec.as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("sw-{hex}")
}

/// `indexes` cut into launches whose batch tag fits in a tag value and that launch at
/// most `most` instances each, in order.
pub fn split_launches(
    block: &str,
    indexes: &[u32],
    token_len: usize,
    most: usize,
) -> Vec<Vec<u32>> {
    let fits =
        |chunk: &[u32]| block.len() + encode_indexes(chunk).len() + 3 + token_len <= MAX_TAG_VALUE;
    let mut out = Vec::new();
    let mut pending: Vec<&[u32]> = indexes.chunks(most.max(1)).rev().collect();
    while let Some(chunk) = pending.pop() {
        if chunk.len() <= 1 || fits(chunk) {
            out.push(chunk.to_vec());
        } else {
            let (a, b) = chunk.split_at(chunk.len() / 2);
            pending.push(b);
            pending.push(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_round_trip_in_runs() {
        let zone_a: Vec<u32> = (0..200).step_by(2).collect();
        assert_eq!(encode_indexes(&zone_a), "0-198:2");
        let cases: Vec<Vec<u32>> = vec![
            vec![],
            vec![7],
            vec![3, 4],
            vec![0, 1, 2, 3, 9, 11, 13, 20],
            zone_a.clone(),
            vec![5, 2, 9],
            vec![1, 1, 1],
        ];
        for idx in cases {
            let text = encode_indexes(&idx);
            if idx.is_empty() {
                assert_eq!(text, "");
                continue;
            }
            assert_eq!(decode_indexes(&text), Some(idx.clone()), "{text}");
        }
        assert_eq!(
            encode_indexes(&[0, 1, 2, 3, 9, 11, 13, 20]),
            "0-3,9-13:2,20"
        );
    }

    #[test]
    fn tags_parse_back_and_nonsense_is_refused() {
        let tag = BatchTag {
            block: "worker".into(),
            indexes: vec![1, 3, 5, 6],
            token: "sw-00ff".into(),
        };
        assert_eq!(tag.value(), "worker[1-5:2,6] sw-00ff");
        assert_eq!(BatchTag::parse(&tag.value()), Some(tag.clone()));
        assert_eq!(tag.index_of(3), Some(6));
        assert_eq!(tag.index_of(4), None);
        assert_eq!(tag.index_of(-1), None);
        for bad in [
            "",
            "worker",
            "worker[] sw-1",
            "[1] sw-1",
            "worker[1]",
            "worker[3-1] sw-1",
            "worker[0-4000000000] sw-1",
            "worker[1-9:0] sw-1",
            "worker[x] sw-1",
        ] {
            assert_eq!(BatchTag::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn launches_are_cut_to_fit_a_tag_value_and_the_most_per_call() {
        // Irregular indexes do not fit one tag value: cut until each does.
        let scattered: Vec<u32> = (0..300).map(|i| i * i).collect();
        let launches = split_launches("worker", &scattered, 35, 1000);
        assert!(launches.len() > 1);
        assert_eq!(launches.concat(), scattered);
        for l in &launches {
            let tag = BatchTag {
                block: "worker".into(),
                indexes: l.clone(),
                token: format!("sw-{}", "0".repeat(32)),
            };
            assert!(tag.value().len() <= MAX_TAG_VALUE, "{}", tag.value());
        }
        let even: Vec<u32> = (0..250).collect();
        let launches = split_launches("worker", &even, 35, 100);
        assert_eq!(
            launches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
    }

    #[test]
    fn a_token_is_the_same_for_the_same_launch_only() {
        let t = batch_token(["a", "b"], "spec");
        assert_eq!(t, batch_token(["a", "b"], "spec"));
        assert_ne!(t, batch_token(["a", "c"], "spec"));
        assert_ne!(t, batch_token(["a", "b"], "other"));
        assert!(t.len() <= 64 && t.starts_with("sw-"));
    }
}
