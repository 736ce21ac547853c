//! Partition assignors of the consumer protocol, computed by the group leader: `range` and
//! `roundrobin` (the Java client's exact results), and `cooperative-sticky` (KIP-429: keeps
//! what members own, balances, and never hands over a partition another member still owns).

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
    /// Incremental rebalancing (KIP-429, protocol name `cooperative-sticky`): members keep the
    /// partitions they own when balance allows, and give up only what moves, in a second
    /// rebalance, instead of stopping everything.
    CooperativeSticky,
}

impl Assignor {
    /// The protocol name in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// True for the incremental protocol: owned partitions are kept during a rebalance.
    pub fn is_cooperative(self) -> bool {
        self == Assignor::CooperativeSticky
    }

    /// The assignor with protocol name `name`.
    pub fn from_name(name: &str) -> Option<Assignor> {
        match name {
            "range" => Some(Assignor::Range),
            "roundrobin" => Some(Assignor::RoundRobin),
            "cooperative-sticky" => Some(Assignor::CooperativeSticky),
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
        self.assign_owned(members, &BTreeMap::new(), partitions)
    }

    /// Like [`assign`](Self::assign), knowing what each member owns now (`owned`: member id
    /// to its partitions), which the sticky assignor keeps where it can.
    pub fn assign_owned(
        self,
        members: &BTreeMap<String, BTreeSet<String>>,
        owned: &BTreeMap<String, Vec<(String, i32)>>,
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, BTreeMap<String, Vec<i32>>> {
        let mut out: BTreeMap<String, BTreeMap<String, Vec<i32>>> = members
            .keys()
            .map(|m| (m.clone(), BTreeMap::new()))
            .collect();
        match self {
            Assignor::CooperativeSticky => {
                for (m, tps) in cooperative_sticky(members, owned, partitions) {
                    let entry = out.get_mut(&m).expect("every member has an entry");
                    for (t, p) in tps {
                        entry.entry(t).or_default().push(p);
                    }
                }
                for tps in out.values_mut() {
                    for ps in tps.values_mut() {
                        ps.sort_unstable();
                    }
                }
            }
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

/// A sticky, balanced assignment that never gives a member a partition another member owns
/// now (that one first revokes it; the next rebalance hands it over).
fn cooperative_sticky(
    members: &BTreeMap<String, BTreeSet<String>>,
    owned: &BTreeMap<String, Vec<(String, i32)>>,
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, BTreeSet<(String, i32)>> {
    let exists = |t: &str, p: i32| partitions.get(t).is_some_and(|&n| (0..n).contains(&p));
    let mut assigned: BTreeMap<String, BTreeSet<(String, i32)>> = members
        .keys()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    let mut taken: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut owner_now: BTreeMap<(String, i32), String> = BTreeMap::new();
    // 1. Keep what members own, still exists and is still subscribed (first claim wins).
    for (m, tps) in owned {
        let Some(subs) = members.get(m) else { continue };
        for (t, p) in tps {
            owner_now
                .entry((t.clone(), *p))
                .or_insert_with(|| m.clone());
            if exists(t, *p) && subs.contains(t) && taken.insert((t.clone(), *p)) {
                assigned.get_mut(m).expect("member").insert((t.clone(), *p));
            }
        }
    }
    // 2. Hand out the rest to the least loaded member subscribed to each topic.
    let all_topics: BTreeSet<&String> = members.values().flatten().collect();
    for t in all_topics {
        let Some(&n) = partitions.get(t) else {
            continue;
        };
        for p in 0..n {
            if taken.contains(&(t.clone(), p)) {
                continue;
            }
            let target = assigned
                .iter()
                .filter(|(m, _)| members[*m].contains(t))
                .min_by_key(|(m, a)| (a.len(), (*m).clone()))
                .map(|(m, _)| m.clone());
            if let Some(m) = target {
                assigned.get_mut(&m).expect("member").insert((t.clone(), p));
                taken.insert((t.clone(), p));
            }
        }
    }
    // 3. Balance: move partitions from the most to the least loaded eligible member while
    //    that narrows the gap; bounded by the number of partitions.
    let total: usize = assigned.values().map(BTreeSet::len).sum();
    for _ in 0..=total {
        let mut moved = false;
        let ids: Vec<String> = assigned.keys().cloned().collect();
        'outer: for from in &ids {
            for to in &ids {
                if assigned[from].len() <= assigned[to].len() + 1 {
                    continue;
                }
                let candidate = assigned[from]
                    .iter()
                    .rev()
                    .find(|(t, _)| members[to].contains(t))
                    .cloned();
                if let Some(tp) = candidate {
                    assigned.get_mut(from).expect("member").remove(&tp);
                    assigned.get_mut(to).expect("member").insert(tp);
                    moved = true;
                    break 'outer;
                }
            }
        }
        if !moved {
            break;
        }
    }
    // 4. Cooperative: a partition another member still owns is not handed over yet.
    for (m, tps) in assigned.iter_mut() {
        tps.retain(|tp| owner_now.get(tp).is_none_or(|o| o == m));
    }
    assigned
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
    fn cooperative_sticky_keeps_owned_partitions_and_holds_back_moves() {
        let m = members(&[("a", &["t"]), ("b", &["t"])]);
        let p = parts(&[("t", 4)]);
        // a owns everything; b is new: a keeps 2, the other 2 are held back (a revokes first).
        let owned: BTreeMap<String, Vec<(String, i32)>> = [(
            "a".to_string(),
            (0..4).map(|p| ("t".to_string(), p)).collect(),
        )]
        .into();
        let first = Assignor::CooperativeSticky.assign_owned(&m, &owned, &p);
        assert_eq!(first["a"]["t"].len(), 2, "{first:?}");
        assert!(
            first["b"].get("t").is_none_or(|v| v.is_empty()),
            "{first:?}"
        );
        // Second round: a owns its 2; b gets the freed ones.
        let owned: BTreeMap<String, Vec<(String, i32)>> = [(
            "a".to_string(),
            first["a"]["t"]
                .iter()
                .map(|p| ("t".to_string(), *p))
                .collect(),
        )]
        .into();
        let second = Assignor::CooperativeSticky.assign_owned(&m, &owned, &p);
        assert_eq!(second["a"], first["a"], "a kept its partitions");
        let mut all: Vec<i32> = second.values().flat_map(|t| t["t"].clone()).collect();
        all.sort();
        assert_eq!(all, vec![0, 1, 2, 3]);
        assert_eq!(second["b"]["t"].len(), 2);
    }

    #[test]
    fn cooperative_sticky_balances_without_owners() {
        let m = members(&[("a", &["t", "u"]), ("b", &["t", "u"]), ("c", &["t"])]);
        let a = Assignor::CooperativeSticky.assign(&m, &parts(&[("t", 5), ("u", 2)]));
        let sizes: Vec<usize> = a.values().map(|t| t.values().map(Vec::len).sum()).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{a:?}"
        );
        assert_eq!(sizes.iter().sum::<usize>(), 7);
        assert!(!a["c"].contains_key("u"), "c does not subscribe to u");
    }

    #[test]
    fn more_members_than_partitions_leaves_some_empty() {
        let m = members(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]);
        for assignor in [
            Assignor::Range,
            Assignor::RoundRobin,
            Assignor::CooperativeSticky,
        ] {
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
