//! CloudTrail events for the emulator's LookupEvents (tests/emulator/moto_launcher.py):
//! a test makes a real change through the SDK, then records the event CloudTrail would
//! have written for it, shaped as the CloudTrail API reference's Event (CloudTrailEvent
//! a JSON string of the record, in the CloudTrail record contents' shape).

use serde_json::{json, Value};
use std::io::{Read, Write};

/// Who made the change in the tests' events.
pub const PRINCIPAL_ROLE: &str = "deploy";
pub const SESSION: &str = "ci";
pub const SOURCE_IP: &str = "203.0.113.7";

pub fn principal_arn(account: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{PRINCIPAL_ROLE}/{SESSION}")
}

/// One event as LookupEvents returns it: `name` on `resource` (type `resource_type`) at
/// `epoch` seconds, by the deploy role's `ci` session, with these request parameters.
// One argument per field LookupEvents returns: the calls read as the event they record.
#[allow(clippy::too_many_arguments)]
pub fn event(
    id: &str,
    account: &str,
    source: &str,
    name: &str,
    resource_type: &str,
    resource: &str,
    epoch: i64,
    request_parameters: Value,
) -> Value {
    let time = time_rfc3339(epoch);
    let record = json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("AROAEXAMPLE:{SESSION}"),
            "arn": principal_arn(account),
            "accountId": account,
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": format!("arn:aws:iam::{account}:role/{PRINCIPAL_ROLE}"),
                    "accountId": account,
                    "userName": PRINCIPAL_ROLE
                }
            }
        },
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": super::world::REGION,
        "sourceIPAddress": SOURCE_IP,
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request_parameters,
        "responseElements": null,
        "eventID": id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management"
    });
    json!({
        "EventId": id,
        "EventName": name,
        "ReadOnly": "false",
        "AccessKeyId": "ASIAEXAMPLE",
        "EventTime": epoch,
        "EventSource": source,
        "Username": SESSION,
        "Resources": [{"ResourceType": resource_type, "ResourceName": resource}],
        "CloudTrailEvent": record.to_string(),
    })
}

/// A read event on the same resource: LookupEvents returns it too, pl-doctor drops it.
pub fn read_event(id: &str, resource: &str, epoch: i64) -> Value {
    json!({
        "EventId": id,
        "EventName": "DescribeSecurityGroups",
        "ReadOnly": "true",
        "EventTime": epoch,
        "EventSource": "ec2.amazonaws.com",
        "Username": SESSION,
        "Resources": [{"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": resource}],
        "CloudTrailEvent": json!({"eventID": id, "eventName": "DescribeSecurityGroups", "readOnly": true}).to_string(),
    })
}

pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

pub fn time_rfc3339(epoch: i64) -> String {
    let days = epoch.div_euclid(86400);
    let secs = epoch.rem_euclid(86400);
    // Civil from days (H. Hinnant).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Records `events` in `account`'s trail in the tests' Region, on the emulator at `port`.
pub fn record(port: u16, account: &str, events: &[Value]) {
    let body =
        json!({"account": account, "region": super::world::REGION, "events": events}).to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("emulator socket");
    write!(
        stream,
        "POST /_pl_doctor/cloudtrail/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the events");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "recording CloudTrail events: {answer}"
    );
}
