//! Kafka's wire protocol as kafkit speaks it: the one module that names the `kafka-protocol`
//! crate.
//!
//! Every protocol type in kafkit's public API is reached through here: the [`ApiKey`] and
//! [`ErrorCode`] a [`BrokerError`](crate::BrokerError) carries, the requests of [`messages`]
//! that [`Client::send`](crate::Client::send) and [`Connection::send`] take, and the version
//! ranges of an [`ApiVersionTable`]. The rest of kafkit imports protocol types only through
//! this module too, so an upgrade of `kafka-protocol` starts (and mostly ends) here.
//!
//! ```no_run
//! use kafkit_client::wire::{messages::DescribeClusterRequest, ApiKey};
//! use kafkit_client::{Client, ClientConfig, Target};
//! # async fn run() -> kafkit_client::Result<()> {
//! let client = Client::connect(ClientConfig::new(["localhost:9092"])).await?;
//! let versions = client.api_versions(&Target::LeastLoaded).await?;
//! println!("DescribeCluster: {:?}", versions.range(ApiKey::DescribeCluster));
//! let cluster = client
//!     .send(&Target::LeastLoaded, &DescribeClusterRequest::default())
//!     .await?;
//! println!("cluster id {}", cluster.cluster_id);
//! # Ok(()) }
//! ```

use bytes::Bytes;

use crate::error::{Error, Result};

/// Request and response messages of every Kafka API, with their nested types.
pub use kafka_protocol::messages;
/// Which API a request or response belongs to.
pub use kafka_protocol::messages::ApiKey;
/// A request message: its API key, supported versions and response type.
pub use kafka_protocol::protocol::Request;
/// The string type of protocol messages (topic names, group ids, ...).
pub use kafka_protocol::protocol::StrBytes;
/// A range of API versions, as a broker advertises them.
pub use kafka_protocol::protocol::VersionRange;
/// A Kafka error code, by name (`ErrorCode::TopicAlreadyExists`, ...).
pub use kafka_protocol::ResponseError as ErrorCode;

pub use crate::conn::{ApiVersionTable, Connection, PendingResponse};

pub(crate) use kafka_protocol::protocol::{Decodable, Encodable};

/// Decodes a response frame (the bytes after its length) for `api` at `version` as a
/// connection does: the response header, then the body, for every API kafkit sends. Bytes
/// that do not decode are an [`Error::Protocol`], never a panic (the fuzz target `response`
/// checks this); an API kafkit never sends is an [`Error::Protocol`] too.
///
/// ```
/// use kafkit_client::wire::ApiKey;
/// let err = kafkit_client::wire::decode_response(ApiKey::Metadata, 12, bytes::Bytes::from_static(&[0, 0]))
///     .unwrap_err();
/// assert!(err.to_string().contains("Metadata"));
/// ```
pub fn decode_response(api: ApiKey, version: i16, mut frame: Bytes) -> Result<()> {
    const BROKER: &str = "(decode_response)";
    crate::conn::skip_header(&mut frame, version, api, BROKER)?;
    fn body<T: Decodable>(mut frame: Bytes, version: i16) -> std::result::Result<(), String> {
        T::decode(&mut frame, version)
            .map(drop)
            .map_err(|e| e.to_string())
    }
    let decoded = match api {
        ApiKey::ApiVersions => body::<messages::ApiVersionsResponse>(frame, version),
        ApiKey::CreateAcls => body::<messages::CreateAclsResponse>(frame, version),
        ApiKey::CreatePartitions => body::<messages::CreatePartitionsResponse>(frame, version),
        ApiKey::CreateTopics => body::<messages::CreateTopicsResponse>(frame, version),
        ApiKey::DeleteAcls => body::<messages::DeleteAclsResponse>(frame, version),
        ApiKey::DeleteGroups => body::<messages::DeleteGroupsResponse>(frame, version),
        ApiKey::DeleteRecords => body::<messages::DeleteRecordsResponse>(frame, version),
        ApiKey::DeleteTopics => body::<messages::DeleteTopicsResponse>(frame, version),
        ApiKey::DescribeAcls => body::<messages::DescribeAclsResponse>(frame, version),
        ApiKey::DescribeCluster => body::<messages::DescribeClusterResponse>(frame, version),
        ApiKey::DescribeConfigs => body::<messages::DescribeConfigsResponse>(frame, version),
        ApiKey::DescribeGroups => body::<messages::DescribeGroupsResponse>(frame, version),
        ApiKey::Fetch => body::<messages::FetchResponse>(frame, version),
        ApiKey::FindCoordinator => body::<messages::FindCoordinatorResponse>(frame, version),
        ApiKey::Heartbeat => body::<messages::HeartbeatResponse>(frame, version),
        ApiKey::IncrementalAlterConfigs => {
            body::<messages::IncrementalAlterConfigsResponse>(frame, version)
        }
        ApiKey::InitProducerId => body::<messages::InitProducerIdResponse>(frame, version),
        ApiKey::JoinGroup => body::<messages::JoinGroupResponse>(frame, version),
        ApiKey::LeaveGroup => body::<messages::LeaveGroupResponse>(frame, version),
        ApiKey::ListGroups => body::<messages::ListGroupsResponse>(frame, version),
        ApiKey::ListOffsets => body::<messages::ListOffsetsResponse>(frame, version),
        ApiKey::Metadata => body::<messages::MetadataResponse>(frame, version),
        ApiKey::OffsetCommit => body::<messages::OffsetCommitResponse>(frame, version),
        ApiKey::OffsetDelete => body::<messages::OffsetDeleteResponse>(frame, version),
        ApiKey::OffsetFetch => body::<messages::OffsetFetchResponse>(frame, version),
        ApiKey::Produce => body::<messages::ProduceResponse>(frame, version),
        ApiKey::SaslAuthenticate => body::<messages::SaslAuthenticateResponse>(frame, version),
        ApiKey::SaslHandshake => body::<messages::SaslHandshakeResponse>(frame, version),
        ApiKey::SyncGroup => body::<messages::SyncGroupResponse>(frame, version),
        other => Err(format!("kafkit never sends {other:?}")),
    };
    decoded.map_err(|e| Error::Protocol {
        api,
        broker: BROKER.into(),
        message: format!("cannot decode version {version}: {e}"),
    })
}
