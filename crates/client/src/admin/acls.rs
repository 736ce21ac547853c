//! ACLs: create, describe, delete.

use crate::wire::messages::create_acls_request::AclCreation;
use crate::wire::messages::delete_acls_request::DeleteAclsFilter;
use crate::wire::messages::{ApiKey, CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use crate::wire::StrBytes;

use super::Admin;
use crate::client::Target;
use crate::error::{check_code, Result};

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $code:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $variant,)*
            /// A code this version of kafkit does not name.
            Unknown(i8),
        }
        impl $name {
            fn code(self) -> i8 {
                match self { $($name::$variant => $code,)* $name::Unknown(c) => c }
            }
            fn from_code(c: i8) -> Self {
                match c { $($code => $name::$variant,)* other => $name::Unknown(other) }
            }
        }
    };
}

wire_enum!(
    /// What an ACL protects.
    ResourceType {
        /// Matches any type (filters only).
        Any = 1,
        /// A topic.
        Topic = 2,
        /// A consumer group.
        Group = 3,
        /// The cluster.
        Cluster = 4,
        /// A transactional id.
        TransactionalId = 5,
        /// A delegation token.
        DelegationToken = 6,
        /// A user.
        User = 7,
    }
);

wire_enum!(
    /// How the resource name matches.
    PatternType {
        /// Any pattern (filters only).
        Any = 1,
        /// Literal or prefixed, as the broker would match (filters only).
        Match = 2,
        /// The exact name (or `*`).
        Literal = 3,
        /// Names starting with the given prefix.
        Prefixed = 4,
    }
);

wire_enum!(
    /// The operation allowed or denied.
    AclOperation {
        /// Any operation (filters only).
        Any = 1,
        /// All operations.
        All = 2,
        /// Read.
        Read = 3,
        /// Write.
        Write = 4,
        /// Create.
        Create = 5,
        /// Delete.
        Delete = 6,
        /// Alter.
        Alter = 7,
        /// Describe.
        Describe = 8,
        /// Cluster action.
        ClusterAction = 9,
        /// Describe configs.
        DescribeConfigs = 10,
        /// Alter configs.
        AlterConfigs = 11,
        /// Idempotent write.
        IdempotentWrite = 12,
    }
);

wire_enum!(
    /// Allow or deny.
    AclPermission {
        /// Any (filters only).
        Any = 1,
        /// Deny.
        Deny = 2,
        /// Allow.
        Allow = 3,
    }
);

/// One ACL: principal may (or may not) do operation on resource from host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclBinding {
    /// Resource type.
    pub resource_type: ResourceType,
    /// Resource name (or prefix).
    pub resource_name: String,
    /// Literal or prefixed.
    pub pattern_type: PatternType,
    /// Principal, e.g. `User:alice`.
    pub principal: String,
    /// Host, `*` for any.
    pub host: String,
    /// Operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermission,
}

impl AclBinding {
    /// Builds a binding from wire fields: (resource type, name, pattern) and
    /// (principal, host, operation, permission).
    fn from_wire(resource: (i8, &StrBytes, i8), entry: (&StrBytes, &StrBytes, i8, i8)) -> Self {
        AclBinding {
            resource_type: ResourceType::from_code(resource.0),
            resource_name: resource.1.to_string(),
            pattern_type: PatternType::from_code(resource.2),
            principal: entry.0.to_string(),
            host: entry.1.to_string(),
            operation: AclOperation::from_code(entry.2),
            permission: AclPermission::from_code(entry.3),
        }
    }
}

/// A filter over ACLs: `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    /// Resource type (`Any` to match all).
    pub resource_type: ResourceType,
    /// Resource name, or any.
    pub resource_name: Option<String>,
    /// Pattern type (`Any` to match all).
    pub pattern_type: PatternType,
    /// Principal, or any.
    pub principal: Option<String>,
    /// Host, or any.
    pub host: Option<String>,
    /// Operation (`Any` to match all).
    pub operation: AclOperation,
    /// Permission (`Any` to match all).
    pub permission: AclPermission,
}

impl AclFilter {
    /// A filter matching every ACL.
    pub fn any() -> Self {
        AclFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

impl Admin {
    /// Creates ACLs.
    pub async fn create_acls(&self, acls: &[AclBinding]) -> Result<()> {
        let request = CreateAclsRequest::default().with_creations(
            acls.iter()
                .map(|a| {
                    AclCreation::default()
                        .with_resource_type(a.resource_type.code())
                        .with_resource_name(s(&a.resource_name))
                        .with_resource_pattern_type(a.pattern_type.code())
                        .with_principal(s(&a.principal))
                        .with_host(s(&a.host))
                        .with_operation(a.operation.code())
                        .with_permission_type(a.permission.code())
                })
                .collect(),
        );
        let target = Target::LeastLoaded;
        let response = self
            .client
            .with_retries("create acls", || self.client.send(&target, &request))
            .await?;
        let broker = self.client.address_hint(&target);
        for r in response.results {
            check_code(r.error_code, ApiKey::CreateAcls, &broker)
                .map_err(|b| b.message(r.error_message.as_ref()).build())?;
        }
        Ok(())
    }

    /// ACLs matching `filter`.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<AclBinding>> {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(filter.resource_type.code())
            .with_resource_name_filter(filter.resource_name.as_deref().map(s))
            .with_pattern_type_filter(filter.pattern_type.code())
            .with_principal_filter(filter.principal.as_deref().map(s))
            .with_host_filter(filter.host.as_deref().map(s))
            .with_operation(filter.operation.code())
            .with_permission_type(filter.permission.code());
        let target = Target::LeastLoaded;
        let response = self
            .client
            .with_retries("describe acls", || self.client.send(&target, &request))
            .await?;
        check_code(
            response.error_code,
            ApiKey::DescribeAcls,
            &self.client.address_hint(&target),
        )
        .map_err(|b| b.message(response.error_message.as_ref()).build())?;
        let mut out = Vec::new();
        for r in response.resources {
            for a in r.acls {
                out.push(AclBinding::from_wire(
                    (r.resource_type, &r.resource_name, r.pattern_type),
                    (&a.principal, &a.host, a.operation, a.permission_type),
                ));
            }
        }
        Ok(out)
    }

    /// Deletes the ACLs matching each filter; returns those deleted.
    pub async fn delete_acls(&self, filters: &[AclFilter]) -> Result<Vec<AclBinding>> {
        let request = DeleteAclsRequest::default().with_filters(
            filters
                .iter()
                .map(|f| {
                    DeleteAclsFilter::default()
                        .with_resource_type_filter(f.resource_type.code())
                        .with_resource_name_filter(f.resource_name.as_deref().map(s))
                        .with_pattern_type_filter(f.pattern_type.code())
                        .with_principal_filter(f.principal.as_deref().map(s))
                        .with_host_filter(f.host.as_deref().map(s))
                        .with_operation(f.operation.code())
                        .with_permission_type(f.permission.code())
                })
                .collect(),
        );
        let target = Target::LeastLoaded;
        let response = self
            .client
            .with_retries("delete acls", || self.client.send(&target, &request))
            .await?;
        let broker = self.client.address_hint(&target);
        let mut out = Vec::new();
        for r in response.filter_results {
            check_code(r.error_code, ApiKey::DeleteAcls, &broker)
                .map_err(|b| b.message(r.error_message.as_ref()).build())?;
            for m in r.matching_acls {
                out.push(AclBinding::from_wire(
                    (m.resource_type, &m.resource_name, m.pattern_type),
                    (&m.principal, &m.host, m.operation, m.permission_type),
                ));
            }
        }
        Ok(out)
    }
}
