//! The command line (clap derive). Values are validated here or in `app`, and every
//! validation failure becomes a one-line usage error (exit 2).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "pl-doctor",
    version,
    about = "Diagnose an AWS PrivateLink interface endpoint: walks the troubleshooting runbook and names the broken link, the evidence and the fix.",
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  pl-doctor --endpoint vpce-0a1b2c3d4e5f6a7b8 --client 10.0.3.10\n  pl-doctor --from-snapshot fixtures/healthy.json -o json\n  pl-doctor explain endpoint-sg-ingress\n\nExit codes: 0 no check failed, 1 a check failed, 2 bad usage or input, 3 could not diagnose.\nWith --watch: 0 once no check fails; on Ctrl-C, the code of the last run that finished (130 if none had)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub diagnose: DiagnoseArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the runbook's checks in order.
    Checks,
    /// Print what a check looks at, why it matters and how to fix it.
    Explain {
        /// A check id, as listed by `pl-doctor checks`.
        id: String,
    },
    /// Print a shell completion script: pl-doctor completions bash > /etc/bash_completion.d/pl-doctor
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): pl-doctor man | man -l -
    Man,
    /// Print the minimal read-only IAM policy (JSON) pl-doctor needs, generated from the checks.
    IamPolicy {
        /// The policy for the provider account's role instead of the consumer's.
        #[arg(long)]
        provider: bool,
        /// Also allow the consumer to assume this provider role (--provider-role-arn).
        #[arg(long, value_name = "ARN", value_parser = parse_role_arn, conflicts_with = "provider")]
        provider_role_arn: Option<String>,
        /// Many accounts: the hub caller's policy (organizations:ListAccounts, ec2:DescribeRegions, sts:AssumeRole on the --role-name roles).
        #[arg(long, conflicts_with_all = ["provider", "member", "provider_role_arn"])]
        hub: bool,
        /// Many accounts: the member role's policy (the consumer policy; the provider role of --provider-role-name takes --provider).
        #[arg(long, conflicts_with_all = ["provider", "provider_role_arn"])]
        member: bool,
        /// With --hub: the member role names the caller assumes (repeat or comma-separate).
        #[arg(long, value_name = "NAME", value_delimiter = ',', value_parser = parse_role_name)]
        role_name: Vec<String>,
        /// With --member: print the member role's trust policy for this hub principal ARN instead.
        #[arg(long, value_name = "ARN", requires = "member")]
        trust_principal: Option<String>,
        /// With --member --trust-principal: the external id the trust policy requires.
        #[arg(long, requires = "trust_principal")]
        external_id: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The interface endpoint to diagnose (vpce-…).
    #[arg(long, value_name = "VPCE_ID")]
    pub endpoint: Option<String>,

    /// Every endpoint connected to this endpoint service (vpce-svc-…), seen with the provider account's credentials.
    #[arg(long, value_name = "VPCE_SVC_ID", conflicts_with_all = ["endpoint", "all", "from_snapshot", "client", "provider_profile", "provider_role_arn", "provider_role_name", "role_name", "accounts", "org", "regions", "resolver", "probe_target", "probe_tls"])]
    pub service: Option<String>,

    /// Every interface endpoint to a PrivateLink service in the region (consumer credentials).
    #[arg(long, conflicts_with_all = ["endpoint", "from_snapshot"])]
    pub all: bool,

    /// With --all: also diagnose the interface endpoints to AWS services (com.amazonaws.<region>.<service>), which fleets leave out by default.
    #[arg(long)]
    pub include_aws_services: bool,

    /// With --all: only the endpoints in this VPC (vpc-…).
    #[arg(long, value_name = "VPC_ID", requires = "all")]
    pub vpc: Option<String>,

    /// Re-run every INTERVAL (default 10s) and redraw, showing what changed, until no check fails (exit 0); Ctrl-C stops with the last finished run's exit code.
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "10s", value_parser = parse_watch_interval, conflicts_with = "from_snapshot")]
    pub watch: Option<Duration>,

    /// Evaluate a saved snapshot instead of collecting from AWS (no AWS access needed).
    #[arg(long, value_name = "FILE")]
    pub from_snapshot: Option<PathBuf>,

    /// Write the collected snapshot to FILE (safe to attach to a ticket: no credentials).
    #[arg(long, value_name = "FILE")]
    pub save_snapshot: Option<PathBuf>,

    /// Who cannot connect: an IP, a CIDR, a security group (sg-…) or an instance (i-…).
    #[arg(long, value_name = "IP|CIDR|sg-…|i-…")]
    pub client: Option<String>,

    /// Service port(s) to test (default: the NLB's listener ports). Repeat or comma-separate.
    #[arg(long, value_name = "PORT", value_delimiter = ',', value_parser = parse_port)]
    pub port: Vec<u16>,

    /// endpoint-policy: the API action the client makes through an endpoint to an AWS service, e.g. s3:GetObject.
    #[arg(long, value_name = "SERVICE:ACTION", value_parser = parse_action)]
    pub action: Option<String>,

    /// endpoint-policy: the IAM principal the client signs as (a role, user or assumed-role ARN, or an account root).
    #[arg(long, value_name = "ARN", value_parser = parse_principal)]
    pub principal: Option<String>,

    /// endpoint-policy: the resource ARN the client acts on, e.g. arn:aws:s3:::my-bucket/key.
    #[arg(long, value_name = "ARN", value_parser = parse_resource)]
    pub resource: Option<String>,

    /// Run only these checks (comma-separated ids).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub only: Vec<String>,

    /// Skip these checks (comma-separated ids).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub skip: Vec<String>,

    /// Output format: table for people, json for ticket bots, markdown for a ticket, html (one self-contained file), openmetrics (a node_exporter textfile).
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Colour and box drawing in the table: auto (a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it), always, never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Exit 1 when the verdict is this bad or worse (fail < inconclusive < warn in strictness): fail (default), inconclusive (also when a check could not be evaluated), warn (anything but pass).
    #[arg(long, value_enum, value_name = "VERDICT", default_value_t = FailOn::Fail)]
    pub fail_on: FailOn,

    /// AWS region of the endpoint (default: from the profile or AWS_REGION).
    #[arg(long, env = "AWS_REGION", value_parser = parse_region)]
    pub region: Option<String>,

    /// AWS named profile for the consumer account.
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,

    /// An AWS-compatible API endpoint (e.g. a local emulator).
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Profile for the provider account (service, NLB, targets).
    #[arg(long, value_name = "PROFILE")]
    pub provider_profile: Option<String>,

    /// Role to assume in the provider account (sts:AssumeRole).
    #[arg(long, value_name = "ARN", value_parser = parse_role_arn, conflicts_with = "provider_profile")]
    pub provider_role_arn: Option<String>,

    /// External id for every assumed role (--provider-role-arn, --role-name, --consumer-role-name, --provider-role-name).
    #[arg(long)]
    pub external_id: Option<String>,

    /// DNS resolver for dns-resolution (default: the system resolver), e.g. 10.0.0.2:53.
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_resolver, conflicts_with = "from_snapshot")]
    pub resolver: Option<std::net::SocketAddr>,

    /// Probe these addresses instead of the endpoint ENI addresses the names resolve to (IPs only). Repeat or comma-separate.
    #[arg(long, value_name = "IP", value_delimiter = ',', value_parser = parse_probe_target, conflicts_with = "from_snapshot")]
    pub probe_target: Vec<std::net::IpAddr>,

    /// After each TCP connect, also do a TLS handshake with SNI = the service's private DNS name.
    #[arg(long, conflicts_with = "from_snapshot")]
    pub probe_tls: bool,

    /// Metrics and flow-log window, e.g. 1h, 30m, 2h30m.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub since: Duration,

    /// Overall deadline: facts still missing then become `unknown` and the report is printed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Look up the CloudTrail write events (who changed what, when, from where) on the resources every failing or warning check names.
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set, conflicts_with = "from_snapshot")]
    pub changes: bool,

    /// How far back the change lookups go (at most 90d, what LookupEvents keeps), e.g. 24h, 3d.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_changes_since)]
    pub changes_since: Duration,

    #[command(flatten)]
    pub many: ManyAccountsArgs,
}

/// Many accounts and regions (the flags DESIGN.md names), grouped so they stay apart.
#[derive(Debug, Args, Default, Clone)]
pub struct ManyAccountsArgs {
    /// With --service: read each connection's consumer side through this role in its owner account (arn:aws:iam::<owner>:role/NAME).
    #[arg(long, value_name = "NAME", value_parser = parse_role_name, conflicts_with_all = ["endpoint", "all", "from_snapshot"])]
    pub consumer_role_name: Option<String>,

    /// With --all: these consumer accounts (12-digit ids, comma-separated), each read through --role-name.
    #[arg(long, value_name = "ID", value_delimiter = ',', value_parser = parse_account_id, conflicts_with_all = ["org", "endpoint", "from_snapshot"])]
    pub accounts: Vec<String>,

    /// With --all: every ACTIVE account of the organization (organizations:ListAccounts with the caller's credentials).
    #[arg(long, conflicts_with_all = ["endpoint", "from_snapshot"])]
    pub org: bool,

    /// With --accounts/--org: the role to assume in each account (the caller's own account is read without assuming).
    #[arg(long, value_name = "NAME", value_parser = parse_role_name)]
    pub role_name: Option<String>,

    /// With --all: the regions to read (comma-separated), or `all` for every region enabled for the account (default: the configured region).
    #[arg(long, value_name = "REGION,…|all", value_delimiter = ',', conflicts_with_all = ["endpoint", "from_snapshot"])]
    pub regions: Vec<String>,

    /// With --all: reach each service's owner account (ServiceDetail.Owner) through this role, assumed once per provider account.
    #[arg(long, value_name = "NAME", value_parser = parse_role_name, conflicts_with_all = ["provider_profile", "provider_role_arn", "endpoint", "from_snapshot"])]
    pub provider_role_name: Option<String>,

    /// Account × region collections in flight at once (default 32: each opens about 15 calls; API rate limits are per account, so accounts in parallel do not share them).
    #[arg(long, value_name = "N", value_parser = parse_concurrency)]
    pub concurrency: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Markdown,
    Html,
    Openmetrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The verdict from which a finished diagnosis exits 1 (CI gating); see `exit::gated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Fail,
    Inconclusive,
    Warn,
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(format!("{s:?} is not a TCP port (1-65535)")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration ({e}); use e.g. 30s, 15m, 1h"))?;
    if d.is_zero() {
        return Err(format!("{s:?} must be longer than zero"));
    }
    Ok(d)
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{s:?} is neither on nor off")),
    }
}

/// `--changes-since`: a duration within the 90 days CloudTrail's LookupEvents keeps.
fn parse_changes_since(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.as_secs() > pl_checks::changes::MAX_SINCE_SECONDS {
        return Err(format!(
            "{s:?} is longer than the 90 days CloudTrail's LookupEvents keeps (e.g. --changes-since 7d)"
        ));
    }
    Ok(d)
}

/// Re-running faster than once a second would only add API calls (and throttling).
fn parse_watch_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err(format!(
            "{s:?} is too short: watch at most once a second (e.g. --watch 10s)"
        ));
    }
    Ok(d)
}

/// [`parse_region`] for values clap does not parse itself (`--regions`, which also takes `all`).
pub fn parse_region_name(s: &str) -> Result<String, String> {
    parse_region(s)
}

/// Region names are `<partition-prefix>-<area>-<n>`, e.g. us-east-1, eu-central-2, us-gov-west-1.
fn parse_region(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not an AWS region name (e.g. us-east-1)"))
    }
}

fn parse_role_arn(s: &str) -> Result<String, String> {
    let fields: Vec<&str> = s.splitn(6, ':').collect();
    let ok = fields.len() == 6
        && fields[0] == "arn"
        && fields[1].starts_with("aws")
        && fields[2] == "iam"
        && fields[3].is_empty()
        && fields[4].len() == 12
        && fields[4].bytes().all(|b| b.is_ascii_digit())
        && fields[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"
        ))
    }
}

/// An IAM action as a client makes it: `service:Operation` (no wildcards: one request).
fn parse_action(s: &str) -> Result<String, String> {
    let ok = s.split_once(':').is_some_and(|(svc, op)| {
        !svc.is_empty()
            && svc
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !op.is_empty()
            && op.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not an API action (service:Operation, e.g. s3:GetObject or ssm:GetParameter)"
        ))
    }
}

/// An IAM principal ARN (`arn:aws:iam::<account>:role/…`, `…:user/…`, `…:root`, or an STS
/// assumed-role session ARN).
fn parse_principal(s: &str) -> Result<String, String> {
    let f: Vec<&str> = s.splitn(6, ':').collect();
    let ok = f.len() == 6
        && f[0] == "arn"
        && f[1].starts_with("aws")
        && (f[2] == "iam" || f[2] == "sts")
        && f[3].is_empty()
        && f[4].len() == 12
        && f[4].bytes().all(|b| b.is_ascii_digit())
        && !f[5].is_empty();
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not an IAM principal ARN (e.g. arn:aws:iam::123456789012:role/app or arn:aws:sts::123456789012:assumed-role/app/session)"
        ))
    }
}

/// A resource ARN: `arn:<partition>:<service>:<region>:<account>:<resource>`.
fn parse_resource(s: &str) -> Result<String, String> {
    let f: Vec<&str> = s.splitn(6, ':').collect();
    let ok = f.len() == 6
        && f[0] == "arn"
        && f[1].starts_with("aws")
        && !f[2].is_empty()
        && !f[5].is_empty()
        && !s.contains(char::is_whitespace);
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a resource ARN (arn:aws:<service>:<region>:<account>:<resource>, e.g. arn:aws:s3:::my-bucket/key)"
        ))
    }
}

/// An IAM role name (optionally with its path, `path/name`): letters, digits and `+=,.@_-`.
fn parse_role_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 512
        && !s.starts_with('/')
        && !s.ends_with('/')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
    if ok && s.rsplit('/').next().is_some_and(|n| n.len() <= 64) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not an IAM role name (letters, digits and +=,.@_-, at most 64; a path as path/name); give the name, not the ARN"
        ))
    }
}

/// A 12-digit AWS account id.
fn parse_account_id(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not an AWS account id (12 digits, e.g. 222222222222)"
        ))
    }
}

fn parse_concurrency(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a concurrency (1 to 256)")),
    }
}

fn parse_resolver(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Ok(sa);
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .map_err(|_| {
            format!(
                "{s:?} is not a resolver address (IP or IP:PORT, e.g. 10.0.0.2 or [fd00::2]:53)"
            )
        })
}

/// A single unicast address: the probe connects to exactly what it is given, so names
/// (which could resolve anywhere), CIDRs and broadcast/multicast addresses are refused.
fn parse_probe_target(s: &str) -> Result<std::net::IpAddr, String> {
    let ip: std::net::IpAddr = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not an IP address (e.g. 10.0.1.25 or fd00::25)"))?;
    let unusable = ip.is_unspecified()
        || ip.is_multicast()
        || matches!(ip, std::net::IpAddr::V4(v4) if v4.is_broadcast());
    if unusable {
        return Err(format!("{s:?} is not a unicast address to connect to"));
    }
    Ok(ip)
}

/// `vpce-` followed by 8 or 17 lowercase hex digits.
pub fn is_endpoint_id(s: &str) -> bool {
    pl_checks::client::is_aws_id(s, "vpce-")
}

/// `vpce-svc-` followed by 8 or 17 lowercase hex digits.
pub fn is_service_id(s: &str) -> bool {
    pl_checks::client::is_aws_id(s, "vpce-svc-")
}

/// `vpc-` followed by 8 or 17 lowercase hex digits.
pub fn is_vpc_id(s: &str) -> bool {
    pl_checks::client::is_aws_id(s, "vpc-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_values_with_messages_that_name_the_input() {
        assert_eq!(parse_port("8443"), Ok(8443));
        assert!(parse_port("0").unwrap_err().contains("\"0\""));
        assert!(parse_port("70000").is_err());
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_region("us-east-1").is_ok());
        assert!(parse_region("us-gov-west-1").is_ok());
        assert!(parse_region("useast1").is_err());
        assert!(parse_region("us-east-1a").is_err());
        assert!(parse_role_arn("arn:aws:iam::111111111111:role/pl-doctor").is_ok());
        assert!(parse_role_arn("arn:aws:iam::111111111111:user/bob").is_err());
        assert!(parse_role_arn("arn:aws:iam::1111:role/x").is_err());
        assert_eq!(parse_resolver("10.0.0.2").unwrap().port(), 53);
        assert_eq!(parse_resolver("127.0.0.1:5353").unwrap().port(), 5353);
        assert!(parse_resolver("dns.example").is_err());
        assert_eq!(
            parse_probe_target("10.0.1.25").unwrap(),
            "10.0.1.25".parse::<std::net::IpAddr>().unwrap()
        );
        assert!(parse_probe_target("fd00::25").is_ok());
        assert!(parse_probe_target("payments.internal.example.com").is_err());
        assert!(parse_probe_target("10.0.1.0/24").is_err());
        assert!(parse_probe_target("10.0.1.25:443").is_err());
        assert!(parse_probe_target("0.0.0.0").is_err());
        assert!(parse_probe_target("255.255.255.255").is_err());
        assert!(parse_probe_target("224.0.0.1").is_err());
        assert!(is_endpoint_id("vpce-0a1b2c3d4e5f6a7b8"));
        assert!(!is_endpoint_id("vpce-0A1B2C3D4E5F6A7B8"));
        assert!(!is_endpoint_id("vpce-svc-0123456789abcdef0"));
        assert!(is_service_id("vpce-svc-0123456789abcdef0"));
        assert!(!is_service_id("vpce-0a1b2c3d4e5f6a7b8"));
        assert!(is_vpc_id("vpc-0a1b2c3d4e5f6a7b8"));
        assert!(!is_vpc_id("vpce-0a1b2c3d4e5f6a7b8"));
        assert!(parse_watch_interval("500ms").is_err());
        assert!(parse_role_name("pl-doctor-read").is_ok());
        assert!(parse_role_name("ops/pl-doctor-read").is_ok());
        assert!(parse_role_name("arn:aws:iam::111111111111:role/x").is_err());
        assert!(parse_role_name("").is_err());
        assert_eq!(parse_account_id("222222222222").unwrap(), "222222222222");
        assert!(parse_account_id("2222").unwrap_err().contains("12 digits"));
        assert!(parse_concurrency("0").is_err());
        assert_eq!(parse_concurrency("8"), Ok(8));
        assert_eq!(parse_watch_interval("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_action("s3:GetObject").is_ok());
        assert!(parse_action("ecr-public:GetAuthorizationToken").is_ok());
        assert!(parse_action("s3:*")
            .unwrap_err()
            .contains("service:Operation"));
        assert!(parse_action("GetObject").is_err());
        assert!(parse_principal("arn:aws:iam::222222222222:role/app").is_ok());
        assert!(parse_principal("arn:aws:sts::222222222222:assumed-role/app/i-1").is_ok());
        assert!(parse_principal("222222222222").is_err());
        assert!(parse_principal("arn:aws:s3:::bucket").is_err());
        assert!(parse_resource("arn:aws:s3:::my-bucket/key").is_ok());
        assert!(parse_resource("arn:aws:ssm:us-east-1:222222222222:parameter/app/db").is_ok());
        assert!(parse_resource("my-bucket/key").is_err());
    }
}
