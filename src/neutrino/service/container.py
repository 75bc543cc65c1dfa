"""The services of one running controller, built once by the app factory from ``Settings``."""

from __future__ import annotations

from dataclasses import dataclass

from neutrino.common.settings import Settings
from neutrino.domain.segments import SegmentConfig
from neutrino.service.address_groups import AddressGroupService
from neutrino.service.address_scopes import AddressScopeService
from neutrino.service.agents import AgentService
from neutrino.service.auto_allocate import AutoAllocateService
from neutrino.service.availability_zones import AvailabilityZoneService
from neutrino.service.changes import ChangeLogService
from neutrino.service.default_security_group_rules import DefaultSecurityGroupRuleService
from neutrino.service.dhcp import DhcpScheduler
from neutrino.service.dhcp_agents import DhcpAgentService
from neutrino.service.flavors import FlavorService, ServiceProfileService
from neutrino.service.hostsync import HostSyncService
from neutrino.service.identity import IdentityService
from neutrino.service.ip_availability import IpAvailabilityService
from neutrino.service.l3_agents import L3AgentsService
from neutrino.service.liveness import LivenessSweeper
from neutrino.service.networks import NetworkService
from neutrino.service.port_bindings import PortBindingService
from neutrino.service.ports import PortService
from neutrino.service.qos import QosPolicyService
from neutrino.service.qos_rules import QosRuleService
from neutrino.service.quotas import QuotaService
from neutrino.service.rbac import RbacService
from neutrino.service.routers import RouterService
from neutrino.service.routers.floatingips import FloatingIpService
from neutrino.service.routers.port_forwardings import PortForwardingService
from neutrino.service.security_group_rules import SecurityGroupRuleService
from neutrino.service.security_groups import SecurityGroupService
from neutrino.service.segment_alloc import SegmentAllocator
from neutrino.service.segment_ranges import SegmentRangeService, sync_defaults
from neutrino.service.segments import SegmentService
from neutrino.service.service_providers import ServiceProviderService
from neutrino.service.subnetpools import SubnetPoolService
from neutrino.service.subnets import SubnetService
from neutrino.service.tags import TagService
from neutrino.service.tokens import TokenAuthority
from neutrino.service.trace import TraceService
from neutrino.service.trunks import TrunkService
from neutrino.store.uow import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    identity: IdentityService
    networks: NetworkService
    subnets: SubnetService
    ports: PortService
    routers: RouterService
    floatingips: FloatingIpService
    port_forwardings: PortForwardingService
    port_bindings: PortBindingService
    tags: TagService
    quotas: QuotaService
    rbac: RbacService
    subnetpools: SubnetPoolService
    address_scopes: AddressScopeService
    address_groups: AddressGroupService
    qos_policies: QosPolicyService
    qos_rules: QosRuleService
    ip_availability: IpAvailabilityService
    availability_zones: AvailabilityZoneService
    service_providers: ServiceProviderService
    security_groups: SecurityGroupService
    security_group_rules: SecurityGroupRuleService
    default_security_group_rules: DefaultSecurityGroupRuleService
    agents: AgentService
    dhcp_agents: DhcpAgentService
    hostsync: HostSyncService
    l3_agents: L3AgentsService
    liveness: LivenessSweeper
    trace: TraceService
    changes: ChangeLogService
    trunks: TrunkService
    segments: SegmentService
    flavors: FlavorService
    service_profiles: ServiceProfileService

    segment_ranges: SegmentRangeService
    auto_allocate: AutoAllocateService

    @classmethod
    def build(cls, settings: Settings, store: Store) -> Services:
        tokens = TokenAuthority(settings.signing_key(), settings.token_ttl_seconds)
        segments = SegmentConfig.parse(
            settings.vxlan_vni_ranges,
            settings.vlan_ranges,
            settings.flat_networks,
            settings.tenant_network_type,
            settings.underlay_mtu,
        )
        sync_defaults(store, segments)  # the configured ranges, as ``default`` rows
        quotas = QuotaService(store, settings)
        dhcp = DhcpScheduler.from_settings(settings)
        ports = PortService(store, settings, quotas)
        networks = NetworkService(store, segments, quotas)
        subnets = SubnetService(store, quotas, dhcp=dhcp)
        flavors = FlavorService(store)
        routers = RouterService(store, settings, quotas, networks, subnets, flavors)
        floatingips = FloatingIpService(store, settings, quotas)
        groups = SecurityGroupService(store, quotas)
        agents = AgentService(store, dhcp, routers.ports.ha)
        return cls(
            settings=settings,
            store=store,
            identity=IdentityService(store, settings, tokens),
            networks=networks,
            subnets=subnets,
            ports=ports,
            routers=routers,
            floatingips=floatingips,
            port_forwardings=PortForwardingService(store),
            port_bindings=PortBindingService(store),
            tags=TagService(store),
            quotas=quotas,
            rbac=RbacService(store, quotas),
            subnetpools=SubnetPoolService(store, quotas),
            address_scopes=AddressScopeService(store, quotas),
            address_groups=AddressGroupService(store),
            qos_policies=QosPolicyService(store),
            qos_rules=QosRuleService(store),
            ip_availability=IpAvailabilityService(store),
            availability_zones=AvailabilityZoneService(store),
            service_providers=ServiceProviderService(),
            security_groups=groups,
            security_group_rules=SecurityGroupRuleService(store, quotas),
            default_security_group_rules=DefaultSecurityGroupRuleService(store),
            agents=agents,
            dhcp_agents=DhcpAgentService(store, dhcp, agents, networks),
            hostsync=HostSyncService(store, ports),
            l3_agents=L3AgentsService(store, routers, routers.ports.ha),
            liveness=LivenessSweeper(store, dhcp),
            trace=TraceService(
                store, networks, subnets, ports, groups, routers, floatingips, agents
            ),
            changes=ChangeLogService(store),
            trunks=TrunkService(store),
            segments=SegmentService(store, SegmentAllocator(segments)),
            flavors=flavors,
            service_profiles=ServiceProfileService(store),
            segment_ranges=SegmentRangeService(store),
            auto_allocate=AutoAllocateService(store, networks, subnets, routers),
        )
