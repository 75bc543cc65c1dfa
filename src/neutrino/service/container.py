"""The services of one running controller, built once by the app factory from ``Settings``."""

from __future__ import annotations

from dataclasses import dataclass

from neutrino.common.settings import Settings
from neutrino.domain.segments import SegmentConfig
from neutrino.service.address_scopes import AddressScopeService
from neutrino.service.agents import AgentService
from neutrino.service.availability_zones import AvailabilityZoneService
from neutrino.service.changes import ChangeLogService
from neutrino.service.default_security_group_rules import DefaultSecurityGroupRuleService
from neutrino.service.dhcp import DhcpScheduler
from neutrino.service.hostsync import HostSyncService
from neutrino.service.identity import IdentityService
from neutrino.service.ip_availability import IpAvailabilityService
from neutrino.service.liveness import LivenessSweeper
from neutrino.service.networks import NetworkService
from neutrino.service.ports import PortService
from neutrino.service.quotas import QuotaService
from neutrino.service.rbac import RbacService
from neutrino.service.routers import RouterService
from neutrino.service.routers.floatingips import FloatingIpService
from neutrino.service.security_group_rules import SecurityGroupRuleService
from neutrino.service.security_groups import SecurityGroupService
from neutrino.service.segment_alloc import SegmentAllocator
from neutrino.service.segments import SegmentService
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
    tags: TagService
    quotas: QuotaService
    rbac: RbacService
    subnetpools: SubnetPoolService
    address_scopes: AddressScopeService
    ip_availability: IpAvailabilityService
    availability_zones: AvailabilityZoneService
    security_groups: SecurityGroupService
    security_group_rules: SecurityGroupRuleService
    default_security_group_rules: DefaultSecurityGroupRuleService
    agents: AgentService
    hostsync: HostSyncService
    liveness: LivenessSweeper
    trace: TraceService
    changes: ChangeLogService
    trunks: TrunkService
    segments: SegmentService

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
        quotas = QuotaService(store, settings)
        dhcp = DhcpScheduler.from_settings(settings)
        ports = PortService(store, settings, quotas)
        networks = NetworkService(store, segments, quotas)
        subnets = SubnetService(store, quotas, dhcp=dhcp)
        routers = RouterService(store, settings, quotas)
        floatingips = FloatingIpService(store, settings, quotas)
        groups = SecurityGroupService(store, quotas)
        agents = AgentService(store, dhcp)
        return cls(
            settings=settings,
            store=store,
            identity=IdentityService(store, settings, tokens),
            networks=networks,
            subnets=subnets,
            ports=ports,
            routers=routers,
            floatingips=floatingips,
            tags=TagService(store),
            quotas=quotas,
            rbac=RbacService(store, quotas),
            subnetpools=SubnetPoolService(store, quotas),
            address_scopes=AddressScopeService(store, quotas),
            ip_availability=IpAvailabilityService(store),
            availability_zones=AvailabilityZoneService(store),
            security_groups=groups,
            security_group_rules=SecurityGroupRuleService(store, quotas),
            default_security_group_rules=DefaultSecurityGroupRuleService(store),
            agents=agents,
            hostsync=HostSyncService(store, ports),
            liveness=LivenessSweeper(store, dhcp),
            trace=TraceService(
                store, networks, subnets, ports, groups, routers, floatingips, agents
            ),
            changes=ChangeLogService(store),
            trunks=TrunkService(store),
            segments=SegmentService(store, SegmentAllocator(segments)),
        )
