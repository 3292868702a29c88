//! IPv4, dual-stack, IPv6: the endpoint's IP address type, its DNS record type, its
//! subnets' address families, the service's supported types and the NLBs' address
//! types must agree, and the client must be able to use what the names resolve to.

use crate::check::{CheckDoc, CheckMeta, Context, Outcome, Severity};
use crate::fact::Fact;
use crate::model::eq_wire;
use crate::net::family::{self, AddressType, DnsRecordType};
use serde_json::json;

pub static META: CheckMeta = CheckMeta {
    id: "ip-address-type",
    title: "Endpoint, subnets, service and NLBs agree on the IP address type",
    source: "beyond the seed: PrivateLink IP address types (IPv4, dual-stack, IPv6)",
    severity: Severity::High,
    applies_to: crate::endpoint_type::AppliesTo::Both,
    reads: &[
        "consumer.endpoint.ip_address_type",
        "consumer.endpoint.dns_record_ip_type",
        "consumer.subnets",
        "consumer.service.supported_ip_address_types",
        "consumer.client",
        "provider.service_configuration.supported_ip_address_types",
        "provider.load_balancers[].ip_address_type",
    ],
    consumer_actions: &[
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcEndpointServices",
        "ec2:DescribeInstances",
    ],
    provider_actions: &[
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "elasticloadbalancing:DescribeLoadBalancers",
    ],
    docs_url: "https://docs.aws.amazon.com/vpc/latest/privatelink/create-endpoint-service.html#endpoint-service-ip-address-type",
    doc: CheckDoc {
        what_it_checks: "The endpoint's IpAddressType (`ipv4`, `dualstack`, `ipv6`; AWS's default is ipv4) \
against: the service's SupportedIpAddressTypes (an ipv4 endpoint needs `ipv4`, an ipv6 one `ipv6`, a dualstack \
one both); its subnets (ipv4 needs IPv4 ranges, dualstack both families, ipv6 IPv6-only subnets); its \
DnsOptions.DnsRecordIpType (ipv4 needs an ipv4 or dualstack endpoint, ipv6 an ipv6 or dualstack one, dualstack \
and service-defined a dualstack one). A service that accepts IPv6 needs every NLB `dualstack`. For the client \
(--client): an IPv6-only client needs AAAA records, which `ipv4` never gives and `service-defined` gives only \
for the regional and zonal names, not the private DNS name; an IPv4-only client needs A records (`ipv6` gives none).",
        why_it_matters: "A family mismatch breaks the path without any rule denying it: an IPv6 client resolves \
the private name to no address (service-defined gives it no AAAA), a dual-stack endpoint to an IPv4-only \
service cannot be created or modified, and an IPv6 endpoint service whose NLB is IPv4-only has nowhere to \
send IPv6 traffic.",
        how_to_fix: "Consumer: `aws ec2 modify-vpc-endpoint --vpc-endpoint-id <vpce-…> --ip-address-type \
<ipv4|dualstack|ipv6> --dns-options DnsRecordIpType=<ipv4|dualstack|ipv6|service-defined>` (Terraform: \
`ip_address_type` and `dns_options { dns_record_ip_type = … }` on `aws_vpc_endpoint`); subnets: \
`aws ec2 associate-subnet-cidr-block --subnet-id <subnet-…> --ipv6-cidr-block <cidr>`.\n\
Provider: `aws ec2 modify-vpc-endpoint-service-configuration --service-id <vpce-svc-…> \
--add-supported-ip-address-types ipv6` (Terraform: `supported_ip_address_types` on `aws_vpc_endpoint_service`), \
after making every NLB dual-stack: `aws elbv2 set-ip-address-type --load-balancer-arn <arn> --ip-address-type dualstack` \
(Terraform: `ip_address_type = \"dualstack\"` on `aws_lb`).",
    },
};

#[derive(Default)]
struct Findings {
    fails: Vec<(String, String)>,
    warns: Vec<(String, String)>,
    unknowns: Vec<String>,
    fine: Vec<String>,
}

pub fn evaluate(ctx: &Context) -> Outcome {
    let s = ctx.snapshot;
    let ep = &s.consumer.endpoint;
    if !eq_wire(&ep.endpoint_type, "Interface") {
        return Outcome::skip(format!(
            "{} is a {} endpoint, not an Interface endpoint (see endpoint-state)",
            ep.id, ep.endpoint_type
        ));
    }
    let mut f = Findings::default();
    let recorded = ep.ip_address_type.as_deref();
    let ty = match recorded.map(AddressType::parse) {
        None => {
            f.fine
                .push("IpAddressType not reported: AWS's default, ipv4".to_owned());
            AddressType::Ipv4
        }
        Some(Some(t)) => t,
        Some(None) => {
            return Outcome::unknown(format!(
                "{} has IpAddressType {:?}, which this pl-doctor does not know",
                ep.id,
                recorded.unwrap_or_default()
            ))
        }
    };
    let record = ep
        .dns_record_ip_type
        .as_deref()
        .and_then(DnsRecordType::parse);
    let svc_id = s.service_id();

    // The service's supported types: the provider's own list, else the consumer's view.
    let supported = s
        .provider
        .service_configuration
        .known()
        .map(|c| c.supported_ip_address_types.clone())
        .filter(|t| !t.is_empty())
        .or_else(|| {
            s.consumer
                .service
                .known()
                .map(|v| v.supported_ip_address_types.clone())
        })
        .filter(|t| !t.is_empty());
    match &supported {
        Some(types) => {
            let lacks = family::service_lacks(ty, types);
            if lacks.is_empty() {
                f.fine
                    .push(format!("{svc_id} accepts {}", types.join(" and ")));
            } else {
                f.fails.push((
                    format!(
                        "{} is a {} endpoint but {svc_id} accepts only {}: no {} path to the service",
                        ep.id,
                        ty.as_str(),
                        types.join(", "),
                        lacks.join("/")
                    ),
                    format!(
                        "Provider: aws ec2 modify-vpc-endpoint-service-configuration --service-id {svc_id} --add-supported-ip-address-types {} (every NLB must be dualstack first), or consumer: aws ec2 modify-vpc-endpoint --vpc-endpoint-id {} --ip-address-type {}",
                        lacks.join(" "),
                        ep.id,
                        types.iter().find(|t| t.eq_ignore_ascii_case("ipv4")).map(|_| "ipv4").unwrap_or("ipv6")
                    ),
                ));
            }
        }
        None => f.unknowns.push(
            match (&s.provider.service_configuration, &s.consumer.service) {
                // The consumer's view answered, without the list.
                (_, Fact::Known(_)) => "the service reports no SupportedIpAddressTypes".to_owned(),
                (_, Fact::Absent(m)) => {
                    format!("the service's supported IP address types: {m}")
                }
            },
        ),
    }

    match &s.consumer.subnets {
        Fact::Known(subnets) => {
            for sid in &ep.subnet_ids {
                match subnets.iter().find(|sn| &sn.id == sid) {
                    Some(sn) => {
                        if let Some(why) = family::subnet_mismatch(ty, sn) {
                            f.fails.push((
                                format!("endpoint subnet {sid} cannot hold a {} endpoint ENI: {why}", ty.as_str()),
                                format!(
                                    "Consumer: give {sid} the missing family (aws ec2 associate-subnet-cidr-block --subnet-id {sid} --ipv6-cidr-block <cidr>) or move the endpoint to subnets that have it (aws ec2 modify-vpc-endpoint --vpc-endpoint-id {} --add-subnet-ids <subnet-…> --remove-subnet-ids {sid})",
                                    ep.id
                                ),
                            ));
                        }
                    }
                    None => f
                        .unknowns
                        .push(format!("endpoint subnet {sid} was not described")),
                }
            }
        }
        Fact::Absent(m) => f
            .unknowns
            .push(format!("the endpoint subnets' address families: {m}")),
    }

    if let Some(r) = record {
        if !r.allowed_endpoint_types().contains(&ty) {
            let allowed: Vec<&str> = r
                .allowed_endpoint_types()
                .iter()
                .map(|t| t.as_str())
                .collect();
            f.fails.push((
                format!(
                    "DnsRecordIpType {} needs a {} endpoint, and {} is {}: its names cannot get those records",
                    ep.dns_record_ip_type.as_deref().unwrap_or_default(),
                    allowed.join(" or "),
                    ep.id,
                    ty.as_str()
                ),
                format!(
                    "Consumer: aws ec2 modify-vpc-endpoint --vpc-endpoint-id {} --dns-options DnsRecordIpType={}",
                    ep.id,
                    if ty.has_v4() { "ipv4" } else { "ipv6" }
                ),
            ));
        }
    }

    // AWS runs the load balancers of its own services: nothing of theirs to compare.
    let aws_service =
        crate::endpoint_type::service_kind(s) == crate::endpoint_type::ServiceKind::AwsService;
    if !aws_service
        && supported
            .as_ref()
            .is_some_and(|t| t.iter().any(|x| x.eq_ignore_ascii_case("ipv6")))
    {
        match &s.provider.load_balancers {
            Fact::Known(lbs) => {
                for lb in lbs {
                    let lb_ty = lb.ip_address_type.as_deref().unwrap_or("ipv4");
                    if !AddressType::parse(lb_ty).is_some_and(AddressType::has_v6) {
                        f.fails.push((
                            format!("{svc_id} accepts IPv6 but its NLB {} is {lb_ty}, not dualstack", lb.name),
                            format!(
                                "Provider: aws elbv2 set-ip-address-type --load-balancer-arn {} --ip-address-type dualstack (Terraform: ip_address_type = \"dualstack\" on the aws_lb; its subnets need IPv6 CIDRs)",
                                lb.arn
                            ),
                        ));
                    }
                }
            }
            Fact::Absent(m) => f.unknowns.push(format!("the NLBs' IP address types: {m}")),
        }
    }

    client_can_resolve(ctx, ty, record, &mut f);

    let evidence = json!({
        "endpoint_ip_address_type": ep.ip_address_type,
        "dns_record_ip_type": ep.dns_record_ip_type,
        "service_supported_ip_address_types": supported,
        "nlb_ip_address_types": s.provider.load_balancers.known().map(|lbs| lbs.iter().map(|lb| json!({"name": lb.name, "ip_address_type": lb.ip_address_type})).collect::<Vec<_>>()),
        "subnets": s.consumer.subnets.known().map(|sns| sns.iter().filter(|sn| ep.subnet_ids.contains(&sn.id)).map(|sn| json!({"id": sn.id, "ipv4": sn.has_ipv4(), "ipv6_cidr_blocks": sn.ipv6_cidr_blocks})).collect::<Vec<_>>()),
    });
    if let Some((first, _)) = f.fails.first() {
        return Outcome::fail(first.clone())
            .details(f.fails.iter().skip(1).map(|(d, _)| d.clone()))
            .details(f.warns.iter().map(|(d, _)| d.clone()))
            .details(f.unknowns.iter().map(|u| format!("not evaluated: {u}")))
            .evidence("address_types", evidence)
            .remediation(
                f.fails
                    .iter()
                    .chain(&f.warns)
                    .map(|(_, fix)| fix.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
    }
    if !f.unknowns.is_empty() {
        return Outcome::unknown(format!(
            "cannot compare the address types: {}",
            f.unknowns.join("; ")
        ))
        .details(f.fine)
        .evidence("address_types", evidence);
    }
    if let Some((first, _)) = f.warns.first() {
        return Outcome::warn(first.clone())
            .details(f.warns.iter().skip(1).map(|(d, _)| d.clone()))
            .evidence("address_types", evidence)
            .remediation(
                f.warns
                    .iter()
                    .map(|(_, fix)| fix.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
    }
    Outcome::pass(format!(
        "{} is {}{}: its subnets{} agree",
        ep.id,
        ty.as_str(),
        ep.dns_record_ip_type
            .as_deref()
            .map(|r| format!(" with {r} DNS records"))
            .unwrap_or_default(),
        if aws_service {
            " and the service"
        } else {
            ", the service and the NLBs"
        }
    ))
    .details(f.fine)
    .evidence("address_types", evidence)
}

/// The client's families against the records its names get: an IPv6-only client with
/// no AAAA for the private name (ipv4, service-defined), an IPv4-only one with no A (ipv6).
fn client_can_resolve(
    ctx: &Context,
    ty: AddressType,
    record: Option<DnsRecordType>,
    f: &mut Findings,
) {
    let Some(Ok(client)) = ctx.client() else {
        return;
    };
    let (v4, v6) = family::client_families(&client.addresses);
    let ep = &ctx.snapshot.consumer.endpoint;
    // Without DnsOptions, the names get the records of the endpoint's own type.
    let record = record.unwrap_or(match ty {
        AddressType::Ipv4 => DnsRecordType::Ipv4,
        AddressType::Dualstack => DnsRecordType::Dualstack,
        AddressType::Ipv6 => DnsRecordType::Ipv6,
    });
    let private_name = ctx
        .snapshot
        .consumer
        .service
        .known()
        .and_then(|v| v.private_dns_name.clone())
        .filter(|_| ep.private_dns_enabled);
    let fix = format!(
        "Consumer: aws ec2 modify-vpc-endpoint --vpc-endpoint-id {} --ip-address-type dualstack --dns-options DnsRecordIpType=dualstack (the service must accept ipv6 and the subnets need IPv6 CIDRs)",
        ep.id
    );
    if v6 && !ty.has_v6() {
        let line = format!(
            "client {} uses IPv6 but {} is {}: its ENIs have no IPv6 addresses",
            client.spec,
            ep.id,
            ty.as_str()
        );
        if v4 {
            f.warns.push((
                format!("{line} (the client's IPv4 addresses still work)"),
                fix,
            ));
        } else {
            f.fails.push((line, fix));
        }
        return;
    }
    if v6 && !v4 {
        if let Some(name) = &private_name {
            if !record.private_name_has_aaaa() {
                f.fails.push((
                    format!(
                        "client {} is IPv6-only but DnsRecordIpType {} gives {name} no AAAA record: the private name does not resolve for it",
                        client.spec,
                        ep.dns_record_ip_type.as_deref().unwrap_or("ipv4")
                    ),
                    format!(
                        "Consumer: aws ec2 modify-vpc-endpoint --vpc-endpoint-id {} --dns-options DnsRecordIpType={} (or have the client use the regional vpce-… name, which gets AAAA)",
                        ep.id,
                        if ty == AddressType::Ipv6 { "ipv6" } else { "dualstack" }
                    ),
                ));
            }
        }
    }
    if v4 && !v6 && !record.private_name_has_a() {
        f.fails.push((
            format!(
                "client {} is IPv4-only but DnsRecordIpType ipv6 gives the endpoint's names no A records",
                client.spec
            ),
            format!(
                "Consumer: aws ec2 modify-vpc-endpoint --vpc-endpoint-id {} --dns-options DnsRecordIpType={}",
                ep.id,
                if ty.has_v4() { "dualstack" } else { "ipv6 (and give the client IPv6)" }
            ),
        ));
    }
}
