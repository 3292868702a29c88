//! Running the real pl-doctor binary against the emulator, in an environment that
//! holds only the dummy consumer credentials: no profile, config file, session token or
//! instance metadata of the machine running the tests can leak in.

use super::world::{ACCESS_KEY_ID, PROVIDER_ROLE_ARN, REGION, SECRET_ACCESS_KEY};
use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// A safety net against a hung run, far above any normal diagnosis; tests never
/// assert on timing.
const RUN_LIMIT: Duration = Duration::from_secs(180);

/// Variables of the machine running the tests that must not reach pl-doctor: a profile,
/// a session, a region or an endpoint of its own would change what it collects.
pub const SCRUBBED_VARS: &[&str] = &[
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_EC2",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "PL_DOCTOR_CALL_LOG",
];

/// What pl-doctor's environment holds: the given access key, no config or credentials
/// file, no instance metadata, no color. Apply with `.envs(…)`, then remove [`SCRUBBED_VARS`].
pub fn isolated_env(access_key_id: &str, secret: &str) -> [(&'static str, String); 6] {
    [
        ("NO_COLOR", "1".to_owned()),
        ("AWS_ACCESS_KEY_ID", access_key_id.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", secret.to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        (
            "AWS_CONFIG_FILE",
            "/nonexistent/pl-doctor-e2e/config".to_owned(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/pl-doctor-e2e/credentials".to_owned(),
        ),
    ]
}

pub struct Invocation {
    pub endpoint_id: String,
    pub endpoint_url: String,
    pub provider_access: bool,
    /// A loopback DNS server to ask (`--resolver`); without one, dns-resolution is skipped.
    pub resolver: Option<String>,
    pub extra: Vec<String>,
    /// The access key pl-doctor signs with: the world's consumer key unless overridden.
    pub access_key: (String, String),
    /// `--all` (the region's fleet) instead of `--endpoint`.
    pub fleet: bool,
}

impl Invocation {
    pub fn new(endpoint_id: &str, endpoint_url: &str) -> Self {
        Invocation {
            endpoint_id: endpoint_id.to_owned(),
            endpoint_url: endpoint_url.to_owned(),
            provider_access: true,
            resolver: None,
            extra: Vec::new(),
            access_key: (ACCESS_KEY_ID.to_owned(), SECRET_ACCESS_KEY.to_owned()),
            fleet: false,
        }
    }

    /// The same run as `--all`: every endpoint of the region, the fleet report.
    pub fn fleet(mut self) -> Self {
        self.fleet = true;
        self
    }

    pub fn without_provider_access(mut self) -> Self {
        self.provider_access = false;
        self
    }

    pub fn resolver(mut self, addr: std::net::SocketAddr) -> Self {
        self.resolver = Some(addr.to_string());
        self
    }

    /// Signs with another access key (an IAM user the test created) instead of the world's.
    pub fn access_key(mut self, id: &str, secret: &str) -> Self {
        self.access_key = (id.to_owned(), secret.to_owned());
        self
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.extra.push(a.into());
        self
    }

    pub fn command(&self) -> Command {
        let mut c = Command::cargo_bin("pl-doctor").expect("pl-doctor binary");
        c.timeout(RUN_LIMIT)
            .envs(isolated_env(&self.access_key.0, &self.access_key.1));
        for var in SCRUBBED_VARS {
            c.env_remove(var);
        }
        match self.fleet {
            true => c.arg("--all"),
            false => c.args(["--endpoint", &self.endpoint_id]),
        };
        c.args([
            "--region",
            REGION,
            "--endpoint-url",
            &self.endpoint_url,
            "-o",
            "json",
        ]);
        if self.provider_access {
            c.args(["--provider-role-arn", PROVIDER_ROLE_ARN]);
        }
        // The emulator's ENI addresses are fake 10.20.x.x ones and its names are made up:
        // DNS questions go only to a loopback test server, and the TCP probe (covered on
        // loopback by tests/dns_probe.rs) never runs here, so nothing leaves 127.0.0.0/8.
        match &self.resolver {
            Some(r) => c.args(["--resolver", r]),
            None => c.args(["--skip", "dns-resolution"]),
        };
        c.args(["--skip", "connect-probe"]);
        c.args(&self.extra);
        c
    }

    pub fn output(&self) -> Outcome {
        let out = self.command().output().expect("run pl-doctor");
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and parses the JSON report, panicking with stderr when there is none.
    pub fn report(&self) -> Report {
        let outcome = self.output();
        let json: Value = serde_json::from_str(&outcome.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON report (exit {:?}, {e})\nstdout: {}\nstderr: {}",
                outcome.code, outcome.stdout, outcome.stderr
            )
        });
        Report { json, outcome }
    }
}

pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub struct Report {
    pub json: Value,
    pub outcome: Outcome,
}

impl Report {
    pub fn statuses(&self) -> BTreeMap<String, String> {
        self.json["checks"]
            .as_array()
            .expect("checks array")
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().expect("id").to_owned(),
                    c["status"].as_str().expect("status").to_owned(),
                )
            })
            .collect()
    }

    pub fn check(&self, id: &str) -> &Value {
        self.json["checks"]
            .as_array()
            .expect("checks array")
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check {id} in the report"))
    }

    pub fn root_cause(&self) -> Option<&str> {
        self.json["root_cause"].as_str()
    }

    /// Every check and its summary, for failure messages.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "exit {:?}, verdict {}, root cause {}\n",
            self.outcome.code, self.json["verdict"], self.json["root_cause"]
        );
        for c in self.json["checks"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "  {:<26} {:<8} {}\n",
                c["id"].as_str().unwrap_or("?"),
                c["status"].as_str().unwrap_or("?"),
                c["summary"].as_str().unwrap_or("")
            ));
        }
        if !self.outcome.stderr.is_empty() {
            s.push_str(&format!("stderr: {}\n", self.outcome.stderr));
        }
        s
    }

    /// Asserts the listed checks' statuses (others are asserted by the caller as needed).
    pub fn expect(&self, expected: &[(&str, &str)]) {
        let statuses = self.statuses();
        let wrong: Vec<String> = expected
            .iter()
            .filter(|(id, want)| statuses.get(*id).map(String::as_str) != Some(*want))
            .map(|(id, want)| {
                format!(
                    "{id}: want {want}, got {}",
                    statuses.get(*id).map(String::as_str).unwrap_or("(absent)")
                )
            })
            .collect();
        assert!(wrong.is_empty(), "{}\n{}", wrong.join("\n"), self.summary());
    }

    pub fn expect_root_cause(&self, want: Option<&str>, exit: i32) {
        assert_eq!(self.root_cause(), want, "root cause\n{}", self.summary());
        assert_eq!(
            self.outcome.code,
            Some(exit),
            "exit code\n{}",
            self.summary()
        );
    }
}

/// Every check of the runbook with its expected status: `all`, with `changes` applied
/// (each naming a check `all` holds).
pub fn expected_statuses(
    mut all: Vec<(&'static str, &'static str)>,
    changes: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    for (id, status) in changes {
        let slot = all
            .iter_mut()
            .find(|(i, _)| i == id)
            .unwrap_or_else(|| panic!("no check {id}"));
        slot.1 = status;
    }
    assert_eq!(
        all.len(),
        pl_checks::registry::RUNBOOK.len(),
        "every check of the runbook"
    );
    all
}
