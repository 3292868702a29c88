//! Private DNS scenarios (runbook 3): each breaks one link between the service's
//! friendly name and the endpoint ENIs.

use super::base::{healthy, ip, PRIVATE_DNS_NAME};
use super::Scenario;
use crate::check::Status::*;
use crate::fact::Fact;
use crate::model::*;

fn set_verification(s: &mut Snapshot, state: &str) {
    if let Fact::Known(c) = &mut s.provider.service_configuration {
        if let Some(p) = &mut c.private_dns_name_configuration {
            p.state = state.into();
        }
    }
    if let Fact::Known(v) = &mut s.consumer.service {
        v.private_dns_name_verification_state = Some(state.into());
    }
}

/// With private DNS off, AWS lists no DnsEntry for the private name.
fn disable_private_dns(s: &mut Snapshot) {
    s.consumer.endpoint.private_dns_enabled = false;
    s.consumer
        .endpoint
        .dns_entries
        .retain(|d| d.dns_name != PRIVATE_DNS_NAME);
}

fn private_name_answers(s: &mut Snapshot, outcome: DnsOutcome) {
    if let Fact::Known(d) = &mut s.dns {
        for l in d
            .lookups
            .iter_mut()
            .filter(|l| l.role == DnsNameRole::PrivateDnsName)
        {
            l.outcome = outcome.clone();
        }
    }
}

fn custom_dhcp_options(s: &mut Snapshot) {
    if let Fact::Known(v) = &mut s.consumer.vpc {
        v.dhcp_options_id = Some("dopt-0c0a7e5d1f2b3c4d5".into());
    }
}

/// The provider published the name but never added the TXT record, so the name is
/// pendingVerification. AWS refused the consumer's attempt to enable private DNS,
/// so the endpoint was created with it off; the friendly name is NXDOMAIN in public DNS.
fn unverified() -> Snapshot {
    let mut s = healthy();
    set_verification(&mut s, "pendingVerification");
    disable_private_dns(&mut s);
    private_name_answers(&mut s, DnsOutcome::NxDomain);
    s
}

/// Verified name, but the consumer created the endpoint with private_dns_enabled = false
/// (the seed's Step 4 snippet does exactly that). Public DNS holds only the verification
/// TXT record under the name, so the name itself answers NOERROR with no A records.
fn disabled() -> Snapshot {
    let mut s = healthy();
    disable_private_dns(&mut s);
    private_name_answers(&mut s, DnsOutcome::NoData);
    s
}

/// A Terraform refactor re-applied the consumer's aws_vpc without enable_dns_hostnames
/// (default false). The endpoint still says private_dns_enabled = true, but the managed
/// private hosted zone no longer takes effect, so the name falls through to public DNS.
fn hostnames_off() -> Snapshot {
    let mut s = healthy();
    if let Fact::Known(v) = &mut s.consumer.vpc {
        v.enable_dns_hostnames = Fact::Known(false);
    }
    private_name_answers(&mut s, DnsOutcome::NoData);
    s
}

/// Private DNS is configured right, but the VPC's DHCP option set points clients at the
/// corporate AD DNS servers. Before private DNS existed, the team added
/// `payments.internal.example.com CNAME` to the regional name of the endpoint they had in
/// the old shared-services VPC (10.60.0.0/16, still attached through a transit gateway).
/// The corporate servers answer from that zone and never ask the VPC resolver, so clients
/// get the long vpce-… name of the other endpoint and its addresses.
fn long_vpce_name() -> Snapshot {
    let mut s = healthy();
    custom_dhcp_options(&mut s);
    if let Fact::Known(d) = &mut s.dns {
        d.resolver = "system".into();
    }
    private_name_answers(
        &mut s,
        DnsOutcome::Answer {
            addresses: vec![ip("10.60.1.44"), ip("10.60.2.17")],
            cname_chain: vec![
                "vpce-0f9e8d7c6b5a49382-k2j3h4g5.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com".into(),
            ],
        },
    );
    s
}

/// The VPC's DHCP option set points at the corporate AD DNS server 10.0.3.53 (in the
/// client subnet), which resolves internal.example.com from the internet. The provider
/// publishes payments.internal.example.com publicly for its partners' internet path
/// (an internet-facing ALB), so clients get public addresses and leave PrivateLink.
/// The vpce-… names still resolve to the ENIs (public DNS serves them), and pl-doctor
/// asked 10.0.3.53, an address inside the consumer VPC, so it ran inside the VPC.
fn public_ip() -> Snapshot {
    let mut s = healthy();
    custom_dhcp_options(&mut s);
    if let Fact::Known(d) = &mut s.dns {
        d.resolver = "10.0.3.53:53".into();
    }
    private_name_answers(
        &mut s,
        DnsOutcome::Answer {
            addresses: vec![ip("52.20.114.37"), ip("34.194.56.201")],
            cname_chain: vec![
                "payments-partners-alb-1234567890.us-east-1.elb.amazonaws.com".into(),
            ],
        },
    );
    s
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "dns-unverified",
            "The provider's private DNS name is pendingVerification (TXT record never published); AWS refused to enable private DNS on the endpoint, and payments.internal.example.com is NXDOMAIN.",
            unverified(),
            Some("private-dns-verification"),
            &[
                ("private-dns-verification", Fail),
                // Enabling is impossible until the name is verified: a prerequisite, not a second cause.
                ("private-dns-enabled", Skip),
                ("dns-resolution", Fail),
            ],
        ),
        Scenario::new(
            "private-dns-disabled",
            "The name is verified but the endpoint was created with private_dns_enabled = false: the friendly name has no A records inside the VPC, only the vpce-… names work.",
            disabled(),
            Some("private-dns-enabled"),
            &[("private-dns-enabled", Fail), ("dns-resolution", Fail)],
        ),
        Scenario::new(
            "vpc-dns-hostnames-off",
            "The consumer VPC's enableDnsHostnames was turned off (aws_vpc re-applied without enable_dns_hostnames): private DNS is enabled on the endpoint but no longer takes effect.",
            hostnames_off(),
            Some("vpc-dns-attributes"),
            // reconcile: AWS may refuse ModifyVpcAttribute while a private-DNS endpoint
            // exists; if so this scenario only arises through a VPC re-created by IaC.
            &[("vpc-dns-attributes", Fail), ("dns-resolution", Fail)],
        ),
        Scenario::new(
            "dns-long-vpce-name",
            "Private DNS is configured correctly, but custom DHCP options send clients to corporate DNS, where payments.internal.example.com is a CNAME to an old endpoint's vpce-… name in another VPC.",
            long_vpce_name(),
            Some("dns-resolution"),
            // reconcile: connect-probe passes because the probe dials the ENI addresses; a
            // probe of the name would reach the old endpoint instead.
            &[("dns-resolution", Fail)],
        ),
        Scenario::new(
            "dns-public-ip",
            "Custom DHCP options point at a corporate resolver (10.0.3.53) that resolves payments.internal.example.com on the internet, where the provider publishes a public partner ALB: clients get public IPs and bypass PrivateLink.",
            public_ip(),
            Some("dns-resolution"),
            &[("dns-resolution", Fail)],
        ),
    ]
}
