"""Starts moto's server for pl-doctor's end-to-end suite, with the few extensions the
suite needs where moto 5.2.5 does not behave like AWS for what pl-doctor reads.

Test code only: the product never special-cases the emulator. Each extension makes
moto answer the way AWS documents it, so the collector meets the same API it meets in
production:

* DescribeVpcEndpointServices in the consumer account lists only that account's own
  services in moto; AWS also lists other accounts' services that allow the caller
  (allowed principal `*`, the caller's account root, or a role/user in it).
* DescribeVpcEndpointConnections is not implemented in moto; AWS lists, to the service
  owner, the endpoints of every account connected to its services.
* DescribeVpcEndpoints in moto does not filter by `vpc-endpoint-id` or `service-name`;
  AWS documents both filters.
* CreateVpcEndpointConnectionNotification and DescribeVpcEndpointConnectionNotifications
  are not implemented in moto; AWS keeps, per service, notifications to an SNS topic for
  the Connect, Accept, Reject and Delete events, `Enabled` once created.
* CreateVpcEndpoint (Interface) in moto gives each endpoint ENI a random 10.x address
  outside its subnet and the VPC's default security group; AWS gives it an address in
  the subnet and the endpoint's security groups.
* CreateVpcEndpoint (Interface) in moto gives the endpoint one DnsEntry named
  `vpce-<id>-<8 chars>.<service name>`; AWS lists the regional name
  `vpce-<id>-<8 chars>.vpce-svc-<id>.<region>.vpce.amazonaws.com`, then one zonal name per
  AZ (`vpce-<id>-<8 chars>-<az>.vpce-svc-<id>.<region>.vpce.amazonaws.com`), all in the
  region's vpce.amazonaws.com hosted zone, then the service's private DNS name (in the
  private hosted zone AWS manages for it) when private DNS is enabled.
* Service configurations and service details carry no SupportedIpAddressTypes in moto;
  AWS always reports them (`ipv4` for a service created without IPv6).
* With IAM enforcement on, moto answers a denied STS call with a generic
  `<ErrorResponse><Errors><Error>` document, which an SDK cannot read (no code, no
  message); AWS answers in STS's awsQuery format, `<ErrorResponse><Error><Code>
  AccessDenied</Code><Message>User: ARN is not authorized to perform: sts:AssumeRole on
  resource: ROLE</Message></Error>`, HTTP 403.
* Organizations ListAccounts in moto returns up to 100 accounts per page; AWS returns at
  most 20 (MaxResults: 1 to 20), so a large organization costs its real number of
  sequential pages (121 accounts: 7).
* For an interface endpoint to an AWS service (`com.amazonaws.<region>.<service>`), AWS
  names the endpoint `vpce-<id>-<8 chars>[-<az>].<service>.<region>.vpce.amazonaws.com`
  (for S3 under a wildcard label, `*.vpce-…`) and lists the service's own regional name
  (e.g. `ssm.us-east-1.amazonaws.com`) when private DNS is enabled; moto lists neither.
* CloudTrail LookupEvents is not implemented in moto. AWS answers it (CloudTrail API
  Reference, LookupEvents; JSON 1.1, X-Amz-Target
  com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents) from the caller's
  account and Region, newest first, filtered by one LookupAttribute (ResourceName,
  EventName, ReadOnly, ...) and StartTime/EndTime, in pages with NextToken. Here the
  events are the ones a test records (`POST /_pl_doctor/cloudtrail/events` with
  `{"account", "region", "events": [Event, ...]}`, each shaped as the API's Event:
  EventId, EventName, ReadOnly, EventTime in epoch seconds, EventSource, Username,
  Resources, CloudTrailEvent as a JSON string); pages hold at most LOOKUP_PAGE_SIZE events
  (AWS may return fewer than MaxResults), so a client's paging is exercised. It goes
  through moto's dispatch, so moto's IAM enforcement covers cloudtrail:LookupEvents.
* With IAM enforcement on, moto re-computes a request's SigV4 signature over the parsed
  query parameters as if they were the body of a GET, so a signed GET with
  a query string (route53 ListHostedZonesByVPC: `?vpcid=…&vpcregion=…`) fails with
  SignatureDoesNotMatch; AWS signs the payload that was sent (SigV4: the hash of an
  empty payload for such a GET).

One setting makes the emulator cheaper without changing what pl-doctor reads: moto loads
its catalogue of public AMIs into every account's EC2 backend when the account is first
used (about 70 ms each, most of an account's set-up cost in the 120-account benchmark);
`MOTO_EC2_LOAD_DEFAULT_AMIS=false` skips it. pl-doctor never reads AMIs (DescribeImages
is not among its calls), and RunInstances accepts any image id without them.

Usage: python moto_launcher.py
Binds 127.0.0.1 on a free port, prints `PORT <n>` on stdout once it accepts
connections, and exits when its stdin closes (so it never outlives the test process
that started it, even when that process is killed).
"""

import ipaddress
import json
from xml.sax.saxutils import escape
import os
import random
import sys
import threading

from werkzeug.serving import make_server

import moto
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import JsonRESTError, _RESTError
from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.models.vpc_service_configuration import VPCServiceConfiguration
from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint
from moto.ec2.responses import EC2Response
from moto.iam.access_control import IAMRequest
from moto.organizations.responses import OrganizationsResponse
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

PINNED = "5.2.5"


def region_backends(region):
    """Every account's EC2 backend in `region` that exists (never creates one)."""
    for account_id, per_region in list(ec2_backends.items()):
        if region in per_region:
            yield account_id, per_region[region]


def principal_allows(principal, account_id):
    return principal == "*" or principal.startswith(f"arn:aws:iam::{account_id}:")


class _BackendWithServices:
    """The caller's backend, seeing every service it may connect to (AWS semantics)."""

    def __init__(self, backend, configurations):
        self._backend = backend
        self.configurations = configurations

    def __getattr__(self, name):
        return getattr(self._backend, name)


_original_describe_services = VPCBackend.describe_vpc_endpoint_services


# As AWS documents it: EC2 API Reference, DescribeVpcEndpointServices (service details visible
# to the caller through the allowed principals; SupportedIpAddressTypes always present).
def describe_vpc_endpoint_services(self, service_names, filters, max_results, next_token, region):
    visible = dict(self.configurations)
    for account_id, backend in region_backends(self.region_name):
        if account_id == self.account_id:
            continue
        for service_id, config in list(backend.configurations.items()):
            if any(principal_allows(p, self.account_id) for p in config.principals):
                visible[service_id] = config
    result = _original_describe_services(
        _BackendWithServices(self, visible), service_names, filters, max_results, next_token, region
    )
    # AWS's own services report their address types too (moto's defaults carry none).
    for detail in result.get("servicesDetails", []):
        if not detail.get("SupportedIpAddressTypes"):
            detail["SupportedIpAddressTypes"] = ["ipv4"]
    return result


# As AWS documents it: EC2 API Reference, DescribeVpcEndpointConnections (the owner of a
# service sees every endpoint connected to it, with VpcEndpointOwner and VpcEndpointState).
def describe_vpc_endpoint_connections(self):
    filters = self._filters_from_querystring()
    own_services = {
        config.service_name: config for config in self.ec2_backend.configurations.values()
    }
    connections = []
    for owner, backend in region_backends(self.region):
        for endpoint in list(backend.vpc_end_points.values()):
            config = own_services.get(endpoint.service_name)
            if config is None:
                continue
            connection = {
                "ServiceId": config.id,
                "VpcEndpointId": endpoint.id,
                "VpcEndpointOwner": owner,
                "VpcEndpointState": endpoint.state,
                "CreationTimestamp": endpoint.creation_timestamp,
                # The provider sees the endpoint's own vpce-… names, not the private DNS name.
                "DnsEntries": [
                    {"DnsName": e["dns_name"], "HostedZoneId": e["hosted_zone_id"]}
                    for e in (endpoint.dns_entries or [])
                    if e["dns_name"].endswith(".vpce.amazonaws.com")
                ],
                "NetworkLoadBalancerArns": list(config.network_load_balancer_arns),
                "GatewayLoadBalancerArns": list(config.gateway_load_balancer_arns),
                "IpAddressType": "ipv4",
                "VpcEndpointConnectionId": "vpce-con-" + endpoint.id[len("vpce-") :],
            }
            wanted = {
                "service-id": connection["ServiceId"],
                "vpc-endpoint-id": connection["VpcEndpointId"],
                "vpc-endpoint-owner": connection["VpcEndpointOwner"],
                "vpc-endpoint-state": connection["VpcEndpointState"],
            }
            if all(
                wanted.get(name) in values for name, values in filters.items() if name in wanted
            ):
                connections.append(connection)
    return ActionResult({"VpcEndpointConnections": connections})


class ServiceNotFound(EC2ClientError):
    code = "InvalidVpcEndpointServiceId.NotFound"


# (account, region) -> [ConnectionNotification], as AWS returns them.
_notifications = {}


# As AWS documents it: EC2 API Reference, CreateVpcEndpointConnectionNotification
# (ConnectionEvents Connect/Accept/Reject/Delete to an SNS topic; ConnectionNotificationState Enabled).
def create_vpc_endpoint_connection_notification(self):
    params = self._get_params()
    service_id = params.get("ServiceId")
    if service_id not in self.ec2_backend.configurations:
        raise ServiceNotFound(f"The service ID '{service_id}' does not exist")
    events = [
        v[0]
        for k, v in sorted(self.querystring.items(), key=lambda kv: int(kv[0].rsplit(".", 1)[1]) if kv[0].startswith("ConnectionEvents.") else 0)
        if k.startswith("ConnectionEvents.")
    ]
    notification = {
        "ConnectionNotificationId": "vpce-nfn-" + "%017x" % random.getrandbits(68),
        "ServiceId": service_id,
        "ConnectionNotificationType": "Topic",
        "ConnectionNotificationArn": params.get("ConnectionNotificationArn"),
        "ConnectionEvents": events,
        "ConnectionNotificationState": "Enabled",
    }
    _notifications.setdefault((self.current_account, self.region), []).append(notification)
    return ActionResult({"ConnectionNotification": notification, "ClientToken": params.get("ClientToken")})


# As AWS documents it: EC2 API Reference, DescribeVpcEndpointConnectionNotifications
# (filter service-id; ConnectionNotificationSet).
def describe_vpc_endpoint_connection_notifications(self):
    filters = self._filters_from_querystring()
    names = {
        "service-id": "ServiceId",
        "connection-notification-id": "ConnectionNotificationId",
        "connection-notification-arn": "ConnectionNotificationArn",
        "connection-notification-state": "ConnectionNotificationState",
        "connection-notification-type": "ConnectionNotificationType",
    }
    found = [
        n
        for n in _notifications.get((self.current_account, self.region), [])
        if all(n.get(names[f]) in values for f, values in filters.items() if f in names)
    ]
    return ActionResult({"ConnectionNotificationSet": found})


def subnet_host_address(cidr, taken):
    """A free host address in `cidr`, past the 4 AWS reserves and before broadcast."""
    network = ipaddress.IPv4Network(cidr)
    first, last = int(network.network_address) + 4, int(network.broadcast_address) - 1
    while True:
        candidate = str(ipaddress.IPv4Address(random.randint(first, last)))
        if candidate not in taken:
            return candidate


_original_create_endpoint = VPCBackend.create_vpc_endpoint


# As AWS documents it: EC2 API Reference, CreateVpcEndpoint / DescribeVpcEndpoints
# (ENIs addressed in their subnets with the endpoint's groups; DnsEntries regional, zonal, private).
def create_vpc_endpoint(self, *args, **kwargs):
    endpoint = _original_create_endpoint(self, *args, **kwargs)
    if (endpoint.vpc_endpoint_type or "").lower() != "interface":
        return endpoint
    groups = [self.get_security_group_from_id(g) for g in endpoint.security_group_ids]
    taken = {eni.private_ip_address for eni in self.enis.values()}
    for eni_id in endpoint.network_interface_ids:
        eni = self.get_network_interface(eni_id)
        address = subnet_host_address(eni.subnet.cidr_block, taken)
        taken.add(address)
        eni.private_ip_address = address
        eni.private_ip_addresses = [{"Primary": True, "PrivateIpAddress": address}]
        eni._group_set = [g for g in groups if g is not None]
        eni.description = f"VPC Endpoint Interface {endpoint.id}"
        eni.interface_type = "vpc_endpoint"
        eni.requester_managed = True
    endpoint.dns_entries = aws_dns_entries(self, endpoint)
    return endpoint


_original_endpoint_filter = VPCEndPoint.get_filter_value


# As AWS documents it: EC2 API Reference, DescribeVpcEndpoints, filters vpc-endpoint-id and service-name.
def endpoint_filter_value(self, filter_name, method_name=None):
    if filter_name == "vpc-endpoint-id":
        return self.id
    if filter_name == "service-name":
        return self.service_name
    return _original_endpoint_filter(self, filter_name, method_name)


# The Route 53 hosted zone AWS serves each region's vpce.amazonaws.com names from
# (the HostedZoneId of an endpoint's regional and zonal DnsEntries).
VPCE_ZONE_IDS = {"us-east-1": "Z7HUB22UULQXV", "us-west-2": "Z1YSA3EXCYUU9Z", "eu-west-1": "Z38GZ743OKFT7T"}


def private_dns_name_of(region, service_name):
    for _, backend in region_backends(region):
        for config in list(backend.configurations.values()):
            if config.service_name == service_name:
                return getattr(config, "private_dns_name", None)
    return None


def aws_service_detail(backend, service_name):
    """The AWS service (com.amazonaws.<region>.<service>) moto lists under this name, if any."""
    for detail in VPCBackend._collect_default_endpoint_services(backend.account_id, backend.region_name):
        if detail.get("ServiceName") == service_name and any(
            t.get("ServiceType") == "Interface" for t in detail.get("ServiceType", [])
        ):
            return detail
    return None


# As AWS documents it: EC2 API Reference, DnsEntry in VpcEndpoint.DnsEntries; PrivateLink guide,
# "DNS hostnames" (vpce-<id>-<suffix>[-<az>].vpce-svc-<id>.<region>.vpce.amazonaws.com; for an AWS
# service vpce-<id>-<suffix>[-<az>].<service>.<region>.vpce.amazonaws.com, and the service's own
# name, e.g. ssm.us-east-1.amazonaws.com, as its private DNS name); S3 User Guide, "AWS PrivateLink
# for Amazon S3" (S3's endpoint-specific names are wildcards: *.vpce-<id>-<suffix>.s3.<region>...).
def aws_dns_entries(backend, endpoint):
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    suffix = "".join(random.choice(alphabet) for _ in range(8))
    region = backend.region_name
    aws_service = aws_service_detail(backend, endpoint.service_name)
    prefix = f"com.amazonaws.{region}."
    if aws_service is not None and endpoint.service_name.startswith(prefix):
        label = endpoint.service_name[len(prefix):]
    else:
        label = endpoint.service_name.rsplit(".", 1)[-1]
    wildcard = "*." if aws_service is not None and label == "s3" else ""
    zone = VPCE_ZONE_IDS.get(region, "Z" + "".join(random.choice(alphabet.upper()) for _ in range(12)))
    base = f"{wildcard}{endpoint.id}-{suffix}"
    tail = f"{label}.{region}.vpce.amazonaws.com"
    entries = [{"dns_name": f"{base}.{tail}", "hosted_zone_id": zone}]
    for subnet_id in endpoint.subnet_ids or []:
        az = backend.get_subnet(subnet_id).availability_zone
        entries.append({"dns_name": f"{base}-{az}.{tail}", "hosted_zone_id": zone})
    if aws_service is not None:
        private_name = aws_service.get("PrivateDnsName")
    else:
        private_name = private_dns_name_of(region, endpoint.service_name)
    if endpoint.private_dns_enabled and private_name:
        managed_zone = "Z" + "".join(random.choice(alphabet.upper()) for _ in range(20))
        entries.append({"dns_name": private_name, "hosted_zone_id": managed_zone})
    return entries


_original_service_to_dict = VPCServiceConfiguration.to_dict


# As AWS documents it: EC2 API Reference, ServiceDetail and ServiceConfiguration
# (SupportedIpAddressTypes: ipv4 | ipv6, always present; ipv4 for a service without IPv6).
def service_to_dict(self):
    detail = _original_service_to_dict(self)
    detail.setdefault("SupportedIpAddressTypes", list(self.supported_ip_address_types))
    return detail


# As AWS documents it: Organizations API Reference, ListAccounts (MaxResults: minimum 1,
# maximum 20; NextToken while more accounts follow).
LIST_ACCOUNTS_PAGE = 20


def list_accounts(self):
    page = min(self._get_int_param("MaxResults") or LIST_ACCOUNTS_PAGE, LIST_ACCOUNTS_PAGE)
    token = self._get_param("NextToken")
    start = int(token) if token and token.isdigit() else 0
    backend = self.organizations_backend
    accounts = sorted(backend.accounts, key=lambda a: (a.create_time, a.id))
    response = {"Accounts": [a.describe() for a in accounts[start : start + page]]}
    if start + page < len(accounts):
        response["NextToken"] = str(start + page)
    return json.dumps(response)


class StsAccessDenied(_RESTError):
    code = 403

    def __init__(self, message):
        super().__init__("AccessDenied", message)
        request_id = "%08x-%04x-%04x-%04x-%012x" % tuple(
            random.getrandbits(bits) for bits in (32, 16, 16, 16, 48)
        )
        self.description = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )


_original_raise_access_denied = IAMRequest._raise_access_denied


# As AWS documents it: STS API Reference, Common Errors / AssumeRole (AccessDenied, HTTP 403,
# in the awsQuery error document, naming the caller, the action and the role).
def raise_access_denied(self):
    if self._service != "sts":
        return _original_raise_access_denied(self)
    message = f"User: {self._access_key.arn} is not authorized to perform: {self._action}"
    role = self._data.get("RoleArn") if isinstance(self._data, dict) else None
    if isinstance(role, list):
        role = role[0] if role else None
    if role:
        message += f" on resource: {role}"
    raise StsAccessDenied(message)


# Recorded CloudTrail events per (account, region), as the LookupEvents API returns them.
_TRAIL_EVENTS = {}
_TRAIL_LOCK = threading.Lock()
LOOKUP_PAGE_SIZE = 2


def record_trail_events(body):
    key = (body["account"], body["region"])
    with _TRAIL_LOCK:
        _TRAIL_EVENTS.setdefault(key, []).extend(body["events"])


def _attribute_matches(event, attribute):
    key, value = attribute.get("AttributeKey"), attribute.get("AttributeValue")
    if key == "ResourceName":
        return any(r.get("ResourceName") == value for r in event.get("Resources", []))
    if key == "ResourceType":
        return any(r.get("ResourceType") == value for r in event.get("Resources", []))
    field = {
        "EventId": "EventId",
        "EventName": "EventName",
        "ReadOnly": "ReadOnly",
        "Username": "Username",
        "EventSource": "EventSource",
        "AccessKeyId": "AccessKeyId",
    }.get(key)
    return field is not None and event.get(field) == value


# As AWS documents it: CloudTrail API Reference, LookupEvents (at most one lookup
# attribute; StartTime/EndTime bound EventTime; newest first; MaxResults at most 50;
# NextToken pages).
def lookup_events(self):
    attributes = self._get_param("LookupAttributes") or []
    if len(attributes) > 1:
        raise JsonRESTError(
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute.",
        )
    start = self._get_param("StartTime")
    end = self._get_param("EndTime")
    max_results = min(int(self._get_param("MaxResults") or 50), 50, LOOKUP_PAGE_SIZE)
    offset = int(self._get_param("NextToken") or 0)
    with _TRAIL_LOCK:
        events = list(_TRAIL_EVENTS.get((self.current_account, self.region), []))
    selected = [
        e
        for e in events
        if all(_attribute_matches(e, a) for a in attributes)
        and (start is None or e["EventTime"] >= float(start))
        and (end is None or e["EventTime"] <= float(end))
    ]
    selected.sort(key=lambda e: e["EventTime"], reverse=True)
    page = selected[offset : offset + max_results]
    answer = {"Events": page}
    if offset + max_results < len(selected):
        answer["NextToken"] = str(offset + max_results)
    return json.dumps(answer)


def with_test_endpoints(app):
    """The launcher's own endpoint for tests to record CloudTrail events; every other
    request goes to moto."""

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == "/_pl_doctor/cloudtrail/events" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            record_trail_events(json.loads(environ["wsgi.input"].read(length)))
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        return app(environ, start_response)

    return wsgi


MOTO_CREATE_AWS_REQUEST = IAMRequest._create_aws_request


# As AWS documents it: IAM User Guide, "Create a signed AWS API request" (Signature
# Version 4): the canonical request ends with the hex SHA-256 of the payload sent, which
# for a GET without a body is the hash of the empty string, whatever its query string.
def create_aws_request_over_the_sent_payload(self):
    """The request moto re-signs to check a signature, with the payload that was sent:
    nothing, for a GET (moto substitutes the parsed query string; for a form POST its
    parsed form is the body, re-encoded, and stays)."""
    request = MOTO_CREATE_AWS_REQUEST(self)
    if self._method in ("GET", "HEAD") and not self._body:
        request.data = b""
    return request


def install_extensions():
    IAMRequest._raise_access_denied = raise_access_denied
    OrganizationsResponse.list_accounts = list_accounts
    IAMRequest._create_aws_request = create_aws_request_over_the_sent_payload
    VPCEndPoint.get_filter_value = endpoint_filter_value
    # Read by the serializer for DescribeVpcEndpointServiceConfigurations (the
    # configuration object) and by to_dict for DescribeVpcEndpointServices.
    VPCServiceConfiguration.supported_ip_address_types = ("ipv4",)
    VPCServiceConfiguration.to_dict = service_to_dict
    VPCBackend.describe_vpc_endpoint_services = describe_vpc_endpoint_services
    VPCBackend.create_vpc_endpoint = create_vpc_endpoint
    EC2Response.describe_vpc_endpoint_connections = describe_vpc_endpoint_connections
    EC2Response.create_vpc_endpoint_connection_notification = create_vpc_endpoint_connection_notification
    EC2Response.describe_vpc_endpoint_connection_notifications = (
        describe_vpc_endpoint_connection_notifications
    )
    CloudTrailResponse.lookup_events = lookup_events


def exit_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    if moto.__version__ != PINNED:
        sys.exit(f"moto {moto.__version__} found, the suite pins {PINNED}: run bash scripts/emulator.sh")
    # Read when each account's EC2 backend is created (see the docstring).
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    install_extensions()
    app = with_test_endpoints(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler
    )
    os.environ["MOTO_PORT"] = str(server.server_port)
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
