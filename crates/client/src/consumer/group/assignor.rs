//! Partition assignors of the consumer protocol, computed by the group leader: `range` and
//! `roundrobin`, with the Java client's exact results.

use std::collections::{BTreeMap, BTreeSet};

/// Which assignment strategy a member supports (in order of preference).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Assignor {
    /// Per topic, contiguous ranges of partitions to members in member-id order (Java's
    /// `RangeAssignor`, protocol name `range`).
    Range,
    /// All partitions of all topics, in order, dealt to members in turn (Java's
    /// `RoundRobinAssignor`, protocol name `roundrobin`).
    RoundRobin,
}

impl Assignor {
    /// The protocol name in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
        }
    }

    /// The assignor with protocol name `name`.
    pub fn from_name(name: &str) -> Option<Assignor> {
        match name {
            "range" => Some(Assignor::Range),
            "roundrobin" => Some(Assignor::RoundRobin),
            _ => None,
        }
    }

    /// Assigns the partitions of the subscribed topics. `members` maps member id to the
    /// topics it subscribes to; `partitions` gives each topic's partition count. Every member
    /// gets an entry, possibly empty.
    pub fn assign(
        self,
        members: &BTreeMap<String, BTreeSet<String>>,
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, BTreeMap<String, Vec<i32>>> {
        let mut out: BTreeMap<String, BTreeMap<String, Vec<i32>>> = members
            .keys()
            .map(|m| (m.clone(), BTreeMap::new()))
            .collect();
        match self {
            Assignor::Range => {
                let topics: BTreeSet<&String> = members.values().flatten().collect();
                for topic in topics {
                    let Some(&count) = partitions.get(topic) else {
                        continue;
                    };
                    let subscribers: Vec<&String> = members
                        .iter()
                        .filter(|(_, ts)| ts.contains(topic))
                        .map(|(m, _)| m)
                        .collect();
                    let n = subscribers.len() as i32;
                    let (per, extra) = (count / n, count % n);
                    for (i, m) in subscribers.into_iter().enumerate() {
                        let i = i as i32;
                        let start = per * i + i.min(extra);
                        let len = per + i32::from(i < extra);
                        if len > 0 {
                            out.get_mut(m)
                                .expect("every member has an entry")
                                .insert(topic.clone(), (start..start + len).collect());
                        }
                    }
                }
            }
            Assignor::RoundRobin => {
                let topics: BTreeSet<&String> = members.values().flatten().collect();
                let all: Vec<(&String, i32)> = topics
                    .into_iter()
                    .filter_map(|t| partitions.get(t).map(|&c| (t, c)))
                    .flat_map(|(t, c)| (0..c).map(move |p| (t, p)))
                    .collect();
                let ids: Vec<&String> = members.keys().collect();
                let mut next = 0usize;
                for (topic, p) in all {
                    // The next member (in turn) that subscribes to this topic.
                    for _ in 0..ids.len() {
                        let m = ids[next % ids.len()];
                        next += 1;
                        if members[m].contains(topic) {
                            out.get_mut(m)
                                .expect("every member has an entry")
                                .entry(topic.clone())
                                .or_default()
                                .push(p);
                            break;
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(spec: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        spec.iter()
            .map(|(m, ts)| (m.to_string(), ts.iter().map(|t| t.to_string()).collect()))
            .collect()
    }

    fn parts(spec: &[(&str, i32)]) -> BTreeMap<String, i32> {
        spec.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn flat(a: &BTreeMap<String, BTreeMap<String, Vec<i32>>>, m: &str) -> Vec<(String, i32)> {
        a[m].iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            .collect()
    }

    fn tp(t: &str, ps: &[i32]) -> Vec<(String, i32)> {
        ps.iter().map(|p| (t.to_string(), *p)).collect()
    }

    /// The Java RangeAssignor's documented example: two consumers, two topics of three
    /// partitions: C0 gets t0p0, t0p1, t1p0, t1p1; C1 gets t0p2, t1p2.
    #[test]
    fn range_matches_the_java_example() {
        let m = members(&[("C0", &["t0", "t1"]), ("C1", &["t0", "t1"])]);
        let a = Assignor::Range.assign(&m, &parts(&[("t0", 3), ("t1", 3)]));
        assert_eq!(
            flat(&a, "C0"),
            [tp("t0", &[0, 1]), tp("t1", &[0, 1])].concat()
        );
        assert_eq!(flat(&a, "C1"), [tp("t0", &[2]), tp("t1", &[2])].concat());
    }

    /// The Java RoundRobinAssignor's documented example with the same input: C0 gets t0p0,
    /// t0p2, t1p1; C1 gets t0p1, t1p0, t1p2.
    #[test]
    fn roundrobin_matches_the_java_example() {
        let m = members(&[("C0", &["t0", "t1"]), ("C1", &["t0", "t1"])]);
        let a = Assignor::RoundRobin.assign(&m, &parts(&[("t0", 3), ("t1", 3)]));
        assert_eq!(flat(&a, "C0"), [tp("t0", &[0, 2]), tp("t1", &[1])].concat());
        assert_eq!(flat(&a, "C1"), [tp("t0", &[1]), tp("t1", &[0, 2])].concat());
    }

    /// Java's unequal-subscription example: C0 ⊂ {t0}, C1 ⊂ {t0, t1}, C2 ⊂ {t0, t1, t2} with
    /// t0, t1, t2 of 1, 2, 3 partitions: C0 [t0p0], C1 [t1p0], C2 [t1p1, t2p0, t2p1, t2p2].
    #[test]
    fn roundrobin_skips_members_not_subscribed() {
        let m = members(&[
            ("C0", &["t0"]),
            ("C1", &["t0", "t1"]),
            ("C2", &["t0", "t1", "t2"]),
        ]);
        let a = Assignor::RoundRobin.assign(&m, &parts(&[("t0", 1), ("t1", 2), ("t2", 3)]));
        assert_eq!(flat(&a, "C0"), tp("t0", &[0]));
        assert_eq!(flat(&a, "C1"), tp("t1", &[0]));
        assert_eq!(
            flat(&a, "C2"),
            [tp("t1", &[1]), tp("t2", &[0, 1, 2])].concat()
        );
    }

    #[test]
    fn more_members_than_partitions_leaves_some_empty() {
        let m = members(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]);
        for assignor in [Assignor::Range, Assignor::RoundRobin] {
            let a = assignor.assign(&m, &parts(&[("t", 2)]));
            let total: usize = a
                .values()
                .map(|ts| ts.values().map(Vec::len).sum::<usize>())
                .sum();
            assert_eq!(total, 2, "{assignor:?}");
            assert!(a.contains_key("c"));
        }
    }
}
