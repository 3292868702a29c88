//! A fact the collector gathered, or the reason it could not.
//!
//! Collection never aborts because one API call failed: each fact carries either
//! its value or why it is missing, and the checks that read it turn `unknown`
//! with that reason (and what would make it evaluable) instead of guessing.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Either the collected value (`{"known": …}`) or why it is missing (`{"absent": …}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact<T> {
    Known(T),
    Absent(Missing),
}

/// Why a fact is absent. Each variant renders as one sentence that says what
/// would make the fact collectable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Missing {
    /// The API answered AccessDenied/UnauthorizedOperation for `action` (e.g. `ec2:DescribeNetworkAcls`).
    AccessDenied {
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The fact lives in another account (usually the provider's) that these credentials cannot read.
    NotVisible {
        account: Option<String>,
        hint: String,
    },
    /// The API failed for another reason (5xx, unsupported operation, malformed reply).
    ApiError { operation: String, message: String },
    /// The overall `--timeout` passed while the call was in flight.
    DeadlinePassed { waiting_for: String },
    /// The run did not ask for it (a skipped check, or an input such as `--client` was not given).
    NotRequested { hint: String },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::AccessDenied { action, message } => {
                write!(f, "missing permission {action}")?;
                if let Some(m) = message {
                    write!(f, " ({m})")?;
                }
                Ok(())
            }
            Missing::NotVisible { account, hint } => match account {
                Some(a) => write!(f, "not visible from this account (owned by {a}); {hint}"),
                None => write!(f, "not visible from this account; {hint}"),
            },
            Missing::ApiError { operation, message } => write!(f, "{operation} failed: {message}"),
            Missing::DeadlinePassed { waiting_for } => {
                write!(f, "deadline passed while waiting for {waiting_for}")
            }
            Missing::NotRequested { hint } => write!(f, "not collected: {hint}"),
        }
    }
}

impl<T> Fact<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Fact::Known(v) => Some(v),
            Fact::Absent(_) => None,
        }
    }

    pub fn as_result(&self) -> Result<&T, &Missing> {
        match self {
            Fact::Known(v) => Ok(v),
            Fact::Absent(m) => Err(m),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Fact<U> {
        match self {
            Fact::Known(v) => Fact::Known(f(v)),
            Fact::Absent(m) => Fact::Absent(m),
        }
    }

    pub fn not_requested(hint: impl Into<String>) -> Self {
        Fact::Absent(Missing::NotRequested { hint: hint.into() })
    }

    pub fn needs_provider(account: Option<&str>) -> Self {
        Fact::Absent(Missing::NotVisible {
            account: account.map(str::to_owned),
            hint: "needs provider access: --provider-profile or --provider-role-arn".into(),
        })
    }
}

impl<T: Default> Default for Fact<T> {
    fn default() -> Self {
        Fact::Known(T::default())
    }
}
