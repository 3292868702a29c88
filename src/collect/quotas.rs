//! `--all`: the interface-endpoints-per-VPC quota's applied value (Service Quotas), one
//! call per account × region, beside the first stage. The counting is the core's
//! (pl_checks::quota); this only asks.

use super::progress::Tracker;
use aws_sdk_ec2::types as ec2t;
use pl_checks::fact::{Fact, Missing};
use pl_checks::quota;
use std::collections::BTreeMap;

/// servicequotas:GetServiceQuota for `vpc`/`L-29B6F2EB`: the applied value.
pub async fn applied_endpoint_quota(
    tracker: &Tracker,
    quotas: &aws_sdk_servicequotas::Client,
) -> Fact<u32> {
    let stage = tracker.stage("consumer: endpoint quota");
    let reply = stage
        .call(
            "servicequotas:GetServiceQuota",
            quotas
                .get_service_quota()
                .service_code(quota::SERVICE_CODE)
                .quota_code(quota::QUOTA_CODE)
                .send(),
        )
        .await;
    match reply {
        Ok(out) => match out.quota().and_then(|q| q.value()) {
            // Quota values are whole numbers sent as doubles ("Value": 50.0).
            Some(v) if v.is_finite() && v >= 0.0 => Fact::Known(v.round() as u32),
            other => Fact::Absent(Missing::ApiError {
                operation: "servicequotas:GetServiceQuota".into(),
                message: format!("no usable quota value in the reply ({other:?})"),
            }),
        },
        Err(f) => Fact::Absent(f.to_missing()),
    }
}

/// The endpoints counting toward the quota, per VPC, from the fleet's DescribeVpcEndpoints
/// reply (every type, also those the fleet leaves out).
pub fn in_use_per_vpc(list: &[ec2t::VpcEndpoint]) -> BTreeMap<String, usize> {
    let mut per_vpc = BTreeMap::new();
    for e in list {
        let endpoint_type = e
            .vpc_endpoint_type()
            .map(|t| t.as_str())
            .unwrap_or_default();
        let state = e.state().map(|s| s.as_str()).unwrap_or_default();
        if let Some(vpc) = e.vpc_id() {
            if quota::counts_toward_quota(endpoint_type) && quota::occupies_quota(state) {
                *per_vpc.entry(vpc.to_owned()).or_insert(0) += 1;
            }
        }
    }
    per_vpc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(vpc: &str, kind: &str, state: &str) -> ec2t::VpcEndpoint {
        ec2t::VpcEndpoint::builder()
            .vpc_id(vpc)
            .vpc_endpoint_type(ec2t::VpcEndpointType::from(kind))
            .state(ec2t::State::from(state))
            .build()
    }

    #[test]
    fn counts_interface_and_gwlb_endpoints_that_exist_per_vpc() {
        let list = [
            endpoint("vpc-a", "Interface", "available"),
            endpoint("vpc-a", "GatewayLoadBalancer", "pendingAcceptance"),
            endpoint("vpc-a", "Gateway", "available"),
            endpoint("vpc-a", "Interface", "deleted"),
            endpoint("vpc-b", "Interface", "available"),
            endpoint("vpc-b", "Resource", "available"),
        ];
        let per_vpc = in_use_per_vpc(&list);
        assert_eq!(per_vpc.get("vpc-a"), Some(&2));
        assert_eq!(per_vpc.get("vpc-b"), Some(&1));
    }
}
