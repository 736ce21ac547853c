//! The group roster: every member's user data and partitions, shared with all members.
//!
//! In the classic protocol only the leader sees the members' subscriptions. A kafkit leader
//! therefore copies the roster — each member's id, the user data it subscribed with (e.g. a
//! worker's HTTP address) and its partitions — into every member's assignment user data, so
//! any member can tell which member owns a partition. Non-kafkit members ignore it; when a
//! non-kafkit member leads, the roster is empty.
//!
//! Format (big-endian): magic `KKR1`, member count (i32), then per member: id (i16 length +
//! UTF-8), user data (i32 length or -1, bytes), partition count (i32), and per partition:
//! topic (i16 length + UTF-8) and partition (i32).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::consumer::record::TopicPartition;

const MAGIC: &[u8; 4] = b"KKR1";

/// One member of the group as its leader assigned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAssignment {
    /// The member id.
    pub member_id: String,
    /// The user data the member subscribed with (`ConsumerConfig::group_user_data`).
    pub user_data: Option<Bytes>,
    /// Its partitions in this generation.
    pub partitions: Vec<TopicPartition>,
}

/// Encodes the roster.
pub(crate) fn encode(members: &[MemberAssignment]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_slice(MAGIC);
    b.put_i32(members.len() as i32);
    let put_str = |b: &mut BytesMut, s: &str| {
        let s = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
        b.put_i16(s.len() as i16);
        b.put_slice(s);
    };
    for m in members {
        put_str(&mut b, &m.member_id);
        match &m.user_data {
            Some(d) => {
                b.put_i32(d.len() as i32);
                b.put_slice(d);
            }
            None => b.put_i32(-1),
        }
        b.put_i32(m.partitions.len() as i32);
        for tp in &m.partitions {
            put_str(&mut b, &tp.topic);
            b.put_i32(tp.partition);
        }
    }
    b.freeze()
}

/// Decodes a roster; anything else (another client's user data) gives `None`.
pub(crate) fn decode(mut b: Bytes) -> Option<Vec<MemberAssignment>> {
    fn take_str(b: &mut Bytes) -> Option<String> {
        if b.remaining() < 2 {
            return None;
        }
        let n = usize::try_from(b.get_i16()).ok()?;
        if b.remaining() < n {
            return None;
        }
        String::from_utf8(b.split_to(n).to_vec()).ok()
    }
    if b.remaining() < 8 || &b[..4] != MAGIC {
        return None;
    }
    b.advance(4);
    let count = usize::try_from(b.get_i32()).ok()?;
    let mut out = Vec::with_capacity(count.min(10_000));
    for _ in 0..count {
        let member_id = take_str(&mut b)?;
        if b.remaining() < 4 {
            return None;
        }
        let len = b.get_i32();
        let user_data = if len < 0 {
            None
        } else {
            let n = len as usize;
            if b.remaining() < n {
                return None;
            }
            Some(b.split_to(n))
        };
        if b.remaining() < 4 {
            return None;
        }
        let parts = usize::try_from(b.get_i32()).ok()?;
        let mut partitions = Vec::with_capacity(parts.min(100_000));
        for _ in 0..parts {
            let topic = take_str(&mut b)?;
            if b.remaining() < 4 {
                return None;
            }
            partitions.push(TopicPartition::new(topic, b.get_i32()));
        }
        out.push(MemberAssignment {
            member_id,
            user_data,
            partitions,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roster_round_trips_and_foreign_data_is_ignored() {
        let roster = vec![
            MemberAssignment {
                member_id: "m-1".into(),
                user_data: Some(Bytes::from_static(b"http://10.0.0.1:8080")),
                partitions: vec![TopicPartition::new("t", 0), TopicPartition::new("t", 2)],
            },
            MemberAssignment {
                member_id: "m-2".into(),
                user_data: None,
                partitions: vec![],
            },
        ];
        assert_eq!(decode(encode(&roster)), Some(roster.clone()));
        assert_eq!(decode(Bytes::from_static(b"not a roster")), None);
        // Truncated at every length: never a panic, never a wrong answer.
        let full = encode(&roster);
        for n in 0..full.len() {
            assert_eq!(decode(full.slice(..n)), None, "cut at {n}");
        }
    }
}
