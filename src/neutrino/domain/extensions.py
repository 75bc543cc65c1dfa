"""The API extensions neutrino implements, exactly; ``GET /v2.0/extensions`` lists these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

UPDATED = "2026-11-22T00:00:00-00:00"


@dataclass(frozen=True)
class Extension:
    alias: str
    name: str
    description: str

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "alias": self.alias,
            "description": self.description,
            "updated": UPDATED,
            "links": [],
        }


EXTENSIONS: tuple[Extension, ...] = (
    Extension("agent", "agent", "The agent management extension."),
    Extension("availability_zone", "Availability Zone", "The availability zone extension."),
    Extension(
        "dhcp_agent_scheduler",
        "DHCP Agent Scheduler",
        "Schedule networks among dhcp agents",
    ),
    Extension(
        "binding", "Port Binding", "Expose port bindings of a virtual port to external application"
    ),
    Extension(
        "binding-extended",
        "Port Bindings Extended",
        "Expose port bindings of a virtual port to external application",
    ),
    Extension("dns-integration", "DNS Integration", "Provides integration with DNS."),
    Extension(
        "dns-domain-ports",
        "dns_domain for ports",
        "Allows the DNS domain to be specified for a network port.",
    ),
    Extension(
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    Extension(
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur "
        "on the external gateway",
    ),
    Extension("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    Extension(
        "l3-port-ip-change-not-allowed",
        "Prevent L3 router ports IP address change extension",
        "Prevent change of IP address for some L3 router ports",
    ),
    Extension("l3-ha", "HA Router extension", "Adds HA capability to routers."),
    Extension(
        "extraroute-atomic",
        "Atomically add/remove extra routes",
        "Edit extra routes of a router on server side by atomically adding/removing extra routes",
    ),
    Extension(
        "fip-port-details",
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP resource",
    ),
    Extension(
        "floating-ip-port-forwarding",
        "Floating IP Port Forwarding",
        "Allow port forwarding from floating IP port to an internal port",
    ),
    Extension(
        "expose-port-forwarding-in-fip",
        "Expose Floating IP port forwardings",
        "Expose port forwarding fields in floating IP response",
    ),
    Extension(
        "floating-ip-port-forwarding-description",
        "Floating IP Port Forwarding new attribute description",
        "Add a description field to Port Forwarding rules",
    ),
    Extension(
        "floating-ip-port-forwarding-port-ranges",
        "Floating IP Port Forwarding support port ranges",
        "Add suport to port ranges",
    ),
    Extension(
        "floating-ip-port-forwarding-detail",
        "Floating IP port forwarding detail",
        "Allow list floating ip return more port forwarding data, include'id' and "
        "'internal_port_id'",
    ),
    Extension(
        "floating-ip-router-writable",
        "Floating IP Router (writable)",
        "Provides a writable router_id attribute for a floating IP resource.",
    ),
    Extension(
        "floatingip-pools", "Floating IP Pools Extension", "Provides a floating IP pools API."
    ),
    Extension(
        "filter-validation",
        "Filter parameters validation",
        "Provides validation on filter parameters.",
    ),
    Extension(
        "ip-substring-filtering",
        "IP address substring filtering",
        "Provides IP address substring filtering when listing ports",
    ),
    Extension(
        "service-type",
        "Neutron Service Type Management",
        "API for retrieving service providers for Neutron advanced services",
    ),
    Extension(
        "network-ip-availability",
        "Network IP Availability",
        "Provides IP availability data for each network and subnet.",
    ),
    Extension("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    Extension(
        "net-mtu-writable",
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
    ),
    Extension(
        "pagination", "Pagination support", "Extension that indicates that pagination is enabled."
    ),
    Extension(
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    Extension(
        "provider", "Provider Network", "Expose mapping of virtual networks to physical networks"
    ),
    Extension(
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding "
        "between L2 Neutron networks and access to external networks via a NAT gateway.",
    ),
    Extension(
        "subnet-external-network",
        "Subnet External Network",
        "Informs if the subnet is associated to an external network.",
    ),
    Extension("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    Extension(
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    Extension(
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    Extension(
        "standard-attr-tag",
        "Tag support for resources with standard attribute: subnet, network, port",
        "Enables to set tag on resources with standard attribute.",
    ),
    Extension(
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
        "standard attributes.",
    ),
    Extension(
        "revision-if-match",
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    Extension(
        "rbac-policies",
        "RBAC Policies",
        "Allows creation and modification of policies that control tenant access to resources.",
    ),
    Extension(
        "rbac-security-groups",
        "Add security_group type to network RBAC",
        "Add security_group type to network RBAC",
    ),
    Extension(
        "quotas", "Quota management support", "Expose functions for quotas management per project"
    ),
    Extension(
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    Extension("address-scope", "Address scope", "Address scopes extension."),
    Extension("address-group", "Address group", "Support address group"),
    Extension(
        "rbac-address-group",
        "Add address_group type to RBAC",
        "Add address_group type to network RBAC",
    ),
    Extension(
        "security-groups-remote-address-group",
        "Remote address group id field for security group rules",
        "Add new field of remote address group id in SG rules",
    ),
    Extension(
        "default-subnetpools",
        "Default Subnetpools",
        "Provides ability to mark and use a subnetpool as the default.",
    ),
    Extension(
        "rbac-address-scope", "Add address_scope type to RBAC", "Add address_scope type to RBAC"
    ),
    Extension("rbac-subnetpool", "Add subnetpool type to RBAC", "Add subnetpool type to RBAC"),
    Extension(
        "subnet_allocation",
        "Subnet Allocation",
        "Enables allocation of subnets from a subnet pool",
    ),
    Extension(
        "subnetpool-prefix-ops",
        "Subnet Pool Prefix Operations",
        "Provides support for adjusting the prefix list of subnet pools",
    ),
    Extension("qos", "Quality of Service", "The Quality of Service extension."),
    Extension(
        "qos-bw-limit-direction",
        "Direction for QoS bandwidth limit rule",
        "Allow to configure QoS bandwidth limit rule with specific direction: ingress or egress",
    ),
    Extension("qos-default", "QoS default policy", "Expose the QoS default policy per project"),
    Extension("qos-fip", "Floating IP QoS", "The floating IP Quality of Service extension"),
    Extension(
        "qos-rule-type-details",
        "Details of QoS rule types",
        "Expose details about QoS rule types supported by loaded backend drivers",
    ),
    Extension(
        "qos-rule-type-filter",
        "Allow to filter the list of QoS rule types",
        'Allows to filter the QoS rule type list adding two new flags. "all_rules" prints all '
        'implemented QoS rule types."all_supported" prints all supported QoS rule types by the '
        "loaded mechanism drivers",
    ),
    Extension(
        "qos-rules-alias",
        "Quality of Service rules alias API",
        "API to enable GET, PUT and DELETE operations on QoS policy rules without specifying "
        "policy ID",
    ),
    Extension(
        "qos-bw-minimum-ingress",
        "Ingress direction for QoS minimum bandwidth rule",
        "Allow to configure QoS minimum bandwidth rule with ingress direction.",
    ),
    Extension(
        "qos-pps-minimum",
        "QoS minimum packet rate rule",
        "Allow to configure QoS minimum packet rate rule.",
    ),
    Extension(
        "qos-pps-minimum-rule-alias",
        "QoS minimum packet rate rule alias",
        "API to enable GET, PUT and DELETE operations on QoS minimum packet rate rule without "
        "specifying policy ID",
    ),
    Extension("port-resource-request", "Port Resource Request", "Expose resource request to Port"),
    Extension(
        "port-resource-request-groups",
        "Port Resource Request Groups",
        "Support requesting multiple groups of resources and traits from the same RP subtree "
        "in resource_request",
    ),
    Extension("security-group", "security-group", "The security groups extension."),
    Extension(
        "security-groups-normalized-cidr",
        "Normalized CIDR field for security group rules",
        "Add new field with normalized remote_ip_prefix cidr in SG rule",
    ),
    Extension(
        "security-groups-rules-belongs-to-default-sg",
        "Security group rule belongs to the project's default security group",
        "Flag to determine if the security group rule belongs to the project's default "
        "security group",
    ),
    Extension(
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
    Extension(
        "security-groups-default-rules",
        "Default rules for security groups",
        "Configure set of security group rules used as default rules for every new security group",
    ),
    Extension("port-security", "Port Security", "Provides port security"),
    Extension(
        "port-numa-affinity-policy",
        "Port NUMA affinity policy",
        "Expose the port NUMA affinity policy",
    ),
    Extension(
        "port-numa-affinity-policy-socket",
        'Port NUMA affinity policy "socket"',
        'Adds "socket" to the supported port NUMA affinity policies',
    ),
    Extension(
        "port-device-profile", "Port device profile", "Expose the port device profile (Cyborg)"
    ),
    Extension("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    Extension(
        "extra_dhcp_opt",
        "Neutron Extra DHCP options",
        "Extra options configuration for DHCP. For example PXE boot options to DHCP "
        "clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
    ),
    Extension("trunk", "Trunk Extension", "Provides support for trunk ports"),
    Extension("segment", "Segment", "Segments extension."),
    Extension(
        "auto-allocated-topology",
        "Auto Allocated Topology Services",
        "Auto Allocated Topology Services.",
    ),
    Extension(
        "network-segment-range",
        "Neutron Network Segment Range",
        "Provides support for the network segment range management",
    ),
    Extension(
        "standard-attr-segment",
        "Standard Attribute Segment Extension",
        "Add standard attributes to Segment resource",
    ),
    Extension(
        "multi-provider",
        "Multi Provider Network",
        "Expose mapping of virtual networks to multiple physical networks",
    ),
    Extension(
        "subnet-segmentid-writable",
        "Subnet SegmentID (writable)",
        "Provides a writable segment_id attribute for a subnet resource.",
    ),
    Extension(
        "l2_adjacency",
        "L2 network adjacency",
        "Display whether a network has L2 adjacency (guaranteed L2 connectivity between its ports)",
    ),
    Extension("trunk-details", "Trunk port details", "Expose trunk port details"),
    Extension("l3_agent_scheduler", "L3 Agent Scheduler", "Schedule routers among l3 agents"),
    Extension(
        "port-mac-address-regenerate",
        "Neutron Port MAC address regenerate",
        "Network port MAC address regenerate",
    ),
    Extension(
        "aap-reject-multicast",
        "Allowed address pairs reject multicast extension",
        "Reject multicast addresses in Allowed Address Pairs",
    ),
    Extension(
        "agent_sort_key",
        "Agents Sort Key",
        "Enabling the keyword sort_key for sorting in agents.",
    ),
    Extension(
        "port-security-groups-filtering",
        "Port filtering on security groups",
        "Provides security groups filtering when listing ports",
    ),
    Extension(
        "quota-check-limit",
        "Quota engine limit check",
        "Support for checking the resource usage before applying a new quota limit",
    ),
    Extension(
        "quota-check-limit-default",
        "Quota engine limit check by default",
        "By default, the Neutron quota engine checks the resource usage before applying a new "
        "quota limit",
    ),
    Extension(
        "availability_zone_filter",
        "Availability Zone Filter Extension",
        "Add filter parameters to AvailabilityZone resource",
    ),
    Extension(
        "network_availability_zone",
        "Network Availability Zone",
        "Availability zone support for network.",
    ),
    Extension(
        "router_availability_zone",
        "Router Availability Zone",
        "Availability zone support for router.",
    ),
    Extension(
        "flavors", "Neutron Service Flavors", "Flavor specification for Neutron advanced services."
    ),
    Extension("l3-flavors", "Router Flavor Extension", "Flavor support for routers."),
    Extension(
        "subnet-service-types",
        "Subnet service types",
        "Provides ability to set the subnet service_types field",
    ),
    Extension(
        "empty-string-filtering",
        "Empty String Filtering Extension",
        "Allow filtering by attributes with empty string value",
    ),
    Extension(
        "security-groups-shared-filtering",
        "Security group filtering on the shared field",
        "Support filtering security groups on the shared field",
    ),
    Extension("ip_allocation", "IP Allocation", "IP allocation extension."),
    Extension(
        "tag-creation",
        "Tag creation extension",
        "Allow to create multiple tags for a resource",
    ),
)
