/**
 * R4 new zone: variables.ZONE_ID.yaml and settings.ZONE_ID.yaml filled in on their templates, and
 * the sub zone proxies' haproxy listeners (seed 003 §3.2–3.3). Pure.
 */
import { ipv4VipValue } from '../../api/nodepool.js';
import { NewZoneRole } from '../../api/zone.js';
import type { Violation } from '../../runbook/violation.js';
import { type Fill, fillTemplate, SETTINGS_TEMPLATE, VARIABLES_TEMPLATE } from '../templatefill.js';
import { YamlEditError } from '../yamledit.js';
import {
  BLOCK_BEGIN,
  BLOCK_END,
  type NewZonePlanInput,
  settingsPath,
  variablesPath,
} from './newzone-input.js';

/**
 * variables.ZONE_ID.yaml, filled in on the copy of variables.template.yaml (003 §3.2): the new
 * zone's identity (`is_global_zone` 0, `cloud_type` never public) and the VBC mode
 * (`installer_allocate_vbc` 0 for manual VBC or VLAN mode, 1 for the installer's allocation).
 */
export function variablesFills(input: NewZonePlanInput): Fill[] {
  return [
    { key: 'zone_id', value: input.zoneId },
    { key: 'region_id', value: input.regionId },
    { key: 'is_global_zone', value: 0 },
    { key: 'cloud_type', value: input.newZone.cloudType },
    { key: 'mode', value: input.mode },
    { key: 'installer_allocate_vbc', value: input.newZone.vbc || input.newZone.vlan ? 0 : 1 },
  ];
}

/** settings.ZONE_ID.yaml on the copy of settings.template.yaml: machines per role, each VG's own EIPs, manual VBC. */
export function settingsFills(input: NewZonePlanInput): Fill[] {
  const { newZone } = input;
  const fills: Fill[] = [{ key: 'zone_id', value: input.zoneId }];
  const byRole: Record<string, string[]> = {};
  for (const role of NewZoneRole.options) {
    const ips = newZone.nodes.filter((n) => n.roles.includes(role)).map((n) => n.address);
    if (ips.length > 0) {
      byRole[role] = ips;
      fills.push({ key: 'nodes', sub: [role], value: ips });
    }
  }
  // Each VG's own ranges, keyed by its management address (never one list copied to every VG).
  if (byRole.vg) {
    fills.push({
      key: 'eips',
      value: Object.fromEntries(
        byRole.vg.map((ip) => [ip, [...(newZone.nodes.find((n) => n.address === ip)?.eips ?? [])]]),
      ),
    });
  }
  if (newZone.vbc) {
    fills.push({
      key: 'vbc',
      value: {
        mgmt_ips: [...newZone.vbc.mgmtIps],
        ipv4_vbc: newZone.vbc.ipv4Vbc,
        ipv4_vip: ipv4VipValue(newZone.vbc),
      },
    });
  }
  return fills;
}

/** Both files filled in on their templates, or why not (nothing runs then). */
export function filledFiles(input: NewZonePlanInput): { variables: string; settings: string } | Violation {
  const fill = (template: string, fills: Fill[], target: string) => {
    const file = input.files?.[template];
    if (file?.text === undefined)
      throw new TemplateProblem(
        'SettingsTemplateMissing',
        `${template} ${file ? (file.error ?? 'does not exist') : 'was not read'} on the firstbox: runbook R4 copies it to ${target} and fills it in`,
      );
    try {
      return fillTemplate(
        file.text,
        fills,
        template,
        `${template} for Zone ${input.zoneId} (runbook R4, new zone)`,
      );
    } catch (err) {
      if (!(err instanceof YamlEditError)) throw err;
      throw new TemplateProblem(
        'SettingsTemplateUnfillable',
        `${err.message}; fill in ${target} by hand (runbook R4) or fix the template`,
      );
    }
  };
  try {
    return {
      variables: fill(VARIABLES_TEMPLATE, variablesFills(input), variablesPath(input.zoneId)),
      settings: fill(SETTINGS_TEMPLATE, settingsFills(input), settingsPath(input.zoneId)),
    };
  } catch (err) {
    if (err instanceof TemplateProblem) return { reason: err.reason, message: err.message };
    throw err;
  }
}

class TemplateProblem extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** The haproxy listeners of a sub zone proxy (seed 003 §3.3), between the operator's markers. */
export function renderListeners(
  webservices: readonly string[],
  protocol: 'https' | 'http',
  globalZoneId: string,
): string {
  const apiPort = protocol === 'https' ? 443 : 7777;
  const servers = (prefix: string, port: number) =>
    webservices.map((ip, i) => `    server  ${prefix}_${i} ${ip}:${port} check`);
  return [
    BLOCK_BEGIN,
    `# global zone ${globalZoneId}: api over ${protocol}`,
    'listen api-front',
    '    bind 0.0.0.0:7777',
    '    mode tcp',
    '    balance source',
    ...servers('apiserver', apiPort),
    '',
    'listen ws-front',
    '    bind 0.0.0.0:8565',
    '    mode tcp',
    '    balance roundrobin',
    ...servers('ws_server', 8565),
    '',
    'listen io-front',
    '    bind 0.0.0.0:8000',
    '    mode tcp',
    '    balance source',
    ...servers('io_server', 8000),
    BLOCK_END,
    '',
  ].join('\n');
}
