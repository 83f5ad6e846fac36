/**
 * R4.5: `scale_settings.ZONE_ID.yaml` is a copy of `settings.template.yaml` filled in (seed 003
 * §2.2): the keys filled are `zone_id`, the new nodes under `nodes.ROLE` (only the KS sub-roles
 * seed, snapshot and vbr, Hyper and VG are scalable), for VG each node's own `eips` keyed by its
 * management address, and manual `vbc`. Everything else stays as the template has it.
 */
import { ipv4VipValue, type NodePoolSpec } from '../../api/nodepool.js';
import type { Fill } from '../templatefill.js';

export function scaleSettingsFills(zoneId: string, spec: NodePoolSpec, ips: readonly string[]): Fill[] {
  const fills: Fill[] = [
    { key: 'zone_id', value: zoneId },
    { key: 'nodes', sub: [spec.role], value: [...ips] },
  ];
  // Each VG's own ranges, keyed by its management address (never one list copied to every VG).
  if (spec.role === 'vg') {
    fills.push({
      key: 'eips',
      value: Object.fromEntries(
        ips.map((ip) => [ip, [...(spec.nodes.find((n) => n.address === ip)?.eips ?? [])]]),
      ),
    });
  }
  if (spec.vbc) {
    fills.push({
      key: 'vbc',
      value: {
        mgmt_ips: [...spec.vbc.mgmtIps],
        ipv4_vbc: spec.vbc.ipv4Vbc,
        ipv4_vip: ipv4VipValue(spec.vbc),
      },
    });
  }
  return fills;
}
