//! The interface-endpoints-per-VPC quota in fleet runs.
//!
//! AWS PrivateLink quotas (VPC User Guide, "AWS PrivateLink quotas"): "Interface and
//! Gateway Load Balancer endpoints per VPC", default 50, adjustable, "a combined quota
//! for interface endpoints and Gateway Load Balancer endpoints". Its Service Quotas code
//! is `vpc`/`L-29B6F2EB`; the applied value (GetServiceQuota) is what binds an account.
//! A VPC at the quota cannot take one more endpoint: the next team's CreateVpcEndpoint
//! fails. A fleet run sees every endpoint of the region anyway, so it counts them per
//! VPC and warns at 80 % of the applied value, before anyone hits the wall.

use crate::fact::Fact;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Service Quotas' code for the quota.
pub const SERVICE_CODE: &str = "vpc";
pub const QUOTA_CODE: &str = "L-29B6F2EB";
/// AWS's default value, used (and said so) when the applied value cannot be read.
pub const DEFAULT_QUOTA: u32 = 50;
/// Warn from this share of the quota on.
pub const WARN_PERCENT: u32 = 80;

/// The endpoint types the quota counts (VpcEndpointType as AWS sends it).
pub fn counts_toward_quota(endpoint_type: &str) -> bool {
    endpoint_type.eq_ignore_ascii_case("Interface")
        || endpoint_type.eq_ignore_ascii_case("GatewayLoadBalancer")
}

/// An endpoint that still exists and so still takes its place in the VPC.
pub fn occupies_quota(state: &str) -> bool {
    !(state.eq_ignore_ascii_case("deleted") || state.eq_ignore_ascii_case("deleting"))
}

/// What one account × region's collection read for the quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointQuotaFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub region: String,
    /// The applied quota value (servicequotas:GetServiceQuota), or why it is unread.
    pub applied: Fact<u32>,
    /// Interface and Gateway Load Balancer endpoints per VPC (all of them, also those a
    /// fleet leaves out: endpoints to AWS services count toward the quota too).
    pub in_use: BTreeMap<String, usize>,
}

/// Where the quota figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaSource {
    /// The account's applied value, from Service Quotas.
    Applied,
    /// AWS's default (50): the applied value could not be read.
    Default,
}

/// One VPC's use of the quota, as the fleet report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpcEndpointUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub region: String,
    pub vpc_id: String,
    pub in_use: usize,
    pub quota: u32,
    pub quota_source: QuotaSource,
    /// Why the applied value is not used (quota_source `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_unread: Option<String>,
    /// in_use as a share of quota, rounded down.
    pub percent: u32,
    /// At or above [`WARN_PERCENT`]: the fleet's verdict is at least `warn`.
    pub near_quota: bool,
}

impl VpcEndpointUsage {
    /// One line for people: the figures, and the fix when it is near the quota.
    pub fn sentence(&self) -> String {
        let whose = match &self.account {
            Some(a) => format!("{} ({a}, {})", self.vpc_id, self.region),
            None => format!("{} ({})", self.vpc_id, self.region),
        };
        let source = match (self.quota_source, &self.quota_unread) {
            (QuotaSource::Applied, _) => "applied quota".to_owned(),
            (QuotaSource::Default, Some(why)) => {
                format!("AWS default; applied value unread: {why}")
            }
            (QuotaSource::Default, None) => "AWS default".to_owned(),
        };
        let mut s = format!(
            "{whose} holds {} of {} interface and Gateway Load Balancer endpoints ({} %, {source})",
            self.in_use, self.quota, self.percent
        );
        if self.near_quota {
            s.push_str(&format!(
                ": request an increase before the next CreateVpcEndpoint fails: aws service-quotas request-service-quota-increase --service-code {SERVICE_CODE} --quota-code {QUOTA_CODE} --desired-value {} --region {}",
                self.quota.saturating_mul(2),
                self.region
            ));
        }
        s
    }
}

/// Every VPC's use of the quota, nearest to it first, then by account, region and VPC.
pub fn usage(facts: &[EndpointQuotaFacts]) -> Vec<VpcEndpointUsage> {
    let mut out: Vec<VpcEndpointUsage> = facts
        .iter()
        .flat_map(|f| {
            let (quota, quota_source, quota_unread) = match &f.applied {
                Fact::Known(q) if *q > 0 => (*q, QuotaSource::Applied, None),
                Fact::Known(q) => (
                    DEFAULT_QUOTA,
                    QuotaSource::Default,
                    Some(format!("Service Quotas answered {q}")),
                ),
                Fact::Absent(why) => (DEFAULT_QUOTA, QuotaSource::Default, Some(why.to_string())),
            };
            f.in_use.iter().map(move |(vpc, n)| {
                let percent = (*n as u64 * 100 / quota as u64) as u32;
                VpcEndpointUsage {
                    account: f.account.clone(),
                    region: f.region.clone(),
                    vpc_id: vpc.clone(),
                    in_use: *n,
                    quota,
                    quota_source,
                    quota_unread: quota_unread.clone(),
                    percent,
                    near_quota: percent >= WARN_PERCENT,
                }
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.percent
            .cmp(&a.percent)
            .then_with(|| a.account.cmp(&b.account))
            .then_with(|| a.region.cmp(&b.region))
            .then_with(|| a.vpc_id.cmp(&b.vpc_id))
    });
    out
}

/// What a report says about the quota: every VPC near it (with the fix), or one line for
/// the most used VPC when none is; nothing when the run counted no VPC.
pub fn summary_lines(usage: &[VpcEndpointUsage]) -> Vec<String> {
    let near: Vec<String> = usage
        .iter()
        .filter(|u| u.near_quota)
        .map(|u| format!("Endpoint quota: {}", u.sentence()))
        .collect();
    if !near.is_empty() {
        return near;
    }
    usage
        .first()
        .map(|most| {
            vec![format!(
                "Endpoint quota: no VPC at {WARN_PERCENT} % of it; the most used, {}",
                most.sentence()
            )]
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fact::Missing;

    fn facts(applied: Fact<u32>, in_use: &[(&str, usize)]) -> EndpointQuotaFacts {
        EndpointQuotaFacts {
            account: Some("111111111111".into()),
            region: "us-east-1".into(),
            applied,
            in_use: in_use.iter().map(|(v, n)| ((*v).to_owned(), *n)).collect(),
        }
    }

    #[test]
    fn warns_from_eighty_percent_of_the_applied_value() {
        let u = usage(&[facts(
            Fact::Known(50),
            &[("vpc-a", 39), ("vpc-b", 40), ("vpc-c", 50)],
        )]);
        let by_vpc = |v: &str| u.iter().find(|x| x.vpc_id == v).unwrap();
        assert!(!by_vpc("vpc-a").near_quota, "39/50 = 78 %");
        assert!(by_vpc("vpc-b").near_quota, "40/50 = 80 %");
        assert_eq!(by_vpc("vpc-c").percent, 100);
        assert_eq!(u[0].vpc_id, "vpc-c", "nearest to the quota first");
        assert_eq!(by_vpc("vpc-b").quota_source, QuotaSource::Applied);
    }

    #[test]
    fn an_increased_quota_is_what_counts() {
        let u = usage(&[facts(Fact::Known(200), &[("vpc-a", 45)])]);
        assert_eq!(u[0].quota, 200);
        assert_eq!(u[0].percent, 22);
        assert!(
            !u[0].near_quota,
            "45 endpoints are fine under an applied 200"
        );
    }

    #[test]
    fn an_unreadable_quota_falls_back_to_the_default_and_says_why() {
        let denied = Fact::Absent(Missing::AccessDenied {
            action: "servicequotas:GetServiceQuota".into(),
            message: None,
        });
        let u = usage(&[facts(denied, &[("vpc-a", 41)])]);
        assert_eq!(u[0].quota, DEFAULT_QUOTA);
        assert_eq!(u[0].quota_source, QuotaSource::Default);
        assert!(u[0].near_quota, "41/50 = 82 %");
        let line = u[0].sentence();
        assert!(line.contains("servicequotas:GetServiceQuota"), "{line}");
        assert!(line.contains("--quota-code L-29B6F2EB"), "{line}");
        assert!(line.contains("41 of 50"), "{line}");
    }

    #[test]
    fn the_fix_is_only_offered_near_the_quota() {
        let u = usage(&[facts(Fact::Known(50), &[("vpc-a", 3)])]);
        assert!(!u[0].sentence().contains("request-service-quota-increase"));
    }

    #[test]
    fn the_summary_names_every_vpc_near_the_quota_or_the_most_used_one() {
        let u = usage(&[facts(
            Fact::Known(50),
            &[("vpc-a", 45), ("vpc-b", 41), ("vpc-c", 2)],
        )]);
        let lines = summary_lines(&u);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("vpc-a") && lines[0].contains("45 of 50"));
        assert!(lines[1].contains("vpc-b"));
        let calm = usage(&[facts(Fact::Known(50), &[("vpc-a", 5), ("vpc-c", 2)])]);
        let lines = summary_lines(&calm);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("no VPC at 80 %") && lines[0].contains("vpc-a"));
        assert!(summary_lines(&[]).is_empty());
    }

    #[test]
    fn only_existing_interface_and_gwlb_endpoints_count() {
        assert!(counts_toward_quota("Interface"));
        assert!(counts_toward_quota("GatewayLoadBalancer"));
        assert!(!counts_toward_quota("Gateway"));
        assert!(!counts_toward_quota("Resource"));
        assert!(occupies_quota("available"));
        assert!(occupies_quota("pendingAcceptance"));
        assert!(!occupies_quota("deleted"));
        assert!(!occupies_quota("Deleting"));
    }
}
