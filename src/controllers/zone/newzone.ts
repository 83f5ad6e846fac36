/**
 * Runbook R4, "a new zone in a region" (seed 003 §3), as a pure function: from the Zone's spec,
 * the global Zone it names, what the region's firstbox reports (`describe-nodes.py`,
 * `describe-zones.py`) and the journal of an earlier run, decide whether the zone must be added,
 * which rules forbid it (nothing runs then), and the ordered steps:
 *
 *   node list → add-nodes.py -z → collect-nodes.py → describe-nodes.py -s available →
 *   variables.ZONE_ID.yaml + settings.ZONE_ID.yaml → config-qingcloud.py -v … -s … →
 *   scale-qingcloud-zone.py -z ZONE_ID -I LIST → on the global webservice: memcache clear
 *   (operate_cache_by_re … -A delete -P "Pitrix.Zone.Zone.UserZone.yunify") and
 *   `supervisorctl restart ws_server billing_resource`, one node at a time → on each new proxy,
 *   one at a time: haproxy listeners api-front / ws-front / io-front, `service haproxy restart`.
 *
 * Everything runs on the firstbox; nodes are reached with the installer's own
 * `exec_nodes.sh IP 'COMMAND'`, so no node host key has to be learned mid-plan. No I/O here: the
 * golden-plan tests run this directly.
 */
import type { Plan } from '../../api/common.js';
import { ipv4VipValue } from '../../api/nodepool.js';
import { CLOUD_TYPES, type NewZone, NewZoneRole, type ZoneMode } from '../../api/zone.js';
import type { PlatformNode, PlatformZone } from '../../facts/types.js';
import { fileHasContent } from '../../runbook/checks.js';
import { guardedStep } from '../../runbook/jobguard.js';
import { isComplete } from '../../runbook/journal.js';
import { makePlan, type PlannedRunbook, type Step } from '../../runbook/step.js';
import { and, or, sh, shell, validated } from '../../ssh/command.js';
import { ValidationError } from '../../ssh/errors.js';
import type { ShellCommand } from '../../ssh/types.js';
import { checks } from '../nodepool/checks.js';
import {
  copyAndFillSteps,
  type Fill,
  type FirstboxFiles,
  fillTemplate,
  SETTINGS_TEMPLATE,
  VARIABLES_TEMPLATE,
} from '../templatefill.js';
import { YamlEditError } from '../yamledit.js';

export interface GlobalZoneView {
  /** metadata.name of the Zone named by spec.newZone.globalZoneRef. */
  name: string;
  zoneId: string;
  global: boolean;
  regionId?: string;
}

export interface NewZonePlanInput {
  zoneId: string;
  regionId?: string;
  global: boolean;
  mode: ZoneMode;
  newZone: NewZone;
  /** The Zone object named by globalZoneRef; undefined when it does not exist. */
  globalZone?: GlobalZoneView;
  /** The region firstbox's node list (describe-nodes.py -s all). */
  platformNodes: PlatformNode[];
  /** describe-zones.py; undefined when the installer has no such tool. */
  platformZones?: PlatformZone[];
  /** status.plan of the Zone: an AddZone run that started is carried to its end. */
  journal?: Plan;
  /** The templates on the firstbox (variables.template.yaml, settings.template.yaml); absent: not read. */
  files?: FirstboxFiles;
}

import type { Violation } from '../../runbook/violation.js';

export type { Violation };

export type NewZoneDecision =
  /** Nothing to add: observe only. `why` says so in words (for logs and the docs). */
  | { kind: 'observe'; why: string }
  /** The installer cannot tell which zones exist: report it, never guess. */
  | { kind: 'unknown'; reason: string; message: string }
  | { kind: 'refuse'; violations: Violation[] }
  | { kind: 'add'; plan: PlannedRunbook; nodes: string[]; proxies: string[]; globalWebservices: string[] };

const HOUR = 3_600_000;
const MIN = 60_000;

export const CACHE_PATTERN = 'Pitrix.Zone.Zone.UserZone.yunify';
export const OPERATE_CACHE = '/pitrix/lib/pitrix-scripts/cache/operate_cache_by_re';
export const EXEC_NODES = '/pitrix/upgrade/exec_nodes.sh';
export const HAPROXY_CFG = '/etc/haproxy/haproxy.cfg';
export const BLOCK_BEGIN = '# BEGIN pitrix-operator region listeners (runbook R4)';
export const BLOCK_END = '# END pitrix-operator region listeners';
export const MEMCACHED_PORT = 11211;

export const newZoneListPath = (zoneId: string) => `/pitrix/conf/operator/new-zone.${zoneId}.list`;
export const variablesPath = (zoneId: string) => `/pitrix/config/variables.${zoneId}.yaml`;
export const settingsPath = (zoneId: string) => `/pitrix/config/settings.${zoneId}.yaml`;

/** Whether this Zone takes the new-zone path at all, and if so the plan or why not. */
export function planNewZone(input: NewZonePlanInput): NewZoneDecision {
  const { zoneId, newZone } = input;
  if (input.global)
    return { kind: 'observe', why: 'a global zone is never added to a region by this runbook' };
  if (!input.regionId) return { kind: 'observe', why: 'no regionId: not a region deployment' };
  if (!input.platformZones) {
    return {
      kind: 'unknown',
      reason: 'ZoneListUnavailable',
      message:
        `firstbox has no /pitrix/cli/describe-zones.py, so whether zone ${zoneId} exists cannot be told; ` +
        'the operator does not add a zone on a guess (add it by hand with runbook R4, or upgrade the installer)',
    };
  }
  const listed = input.platformZones.some((z) => z.zoneId === zoneId);
  const started = input.journal?.steps?.some((s) => s.state !== 'Pending') ?? false;
  if (listed && (!started || isComplete(input.journal)))
    return { kind: 'observe', why: `describe-zones.py lists zone ${zoneId}` };

  const violations = rules(input);
  if (violations.length > 0) return { kind: 'refuse', violations };
  const filled = filledFiles(input);
  if ('reason' in filled) return { kind: 'refuse', violations: [filled] };

  const gz = input.globalZone!;
  const globalNodes = input.platformNodes.filter((n) => n.zoneId === gz.zoneId && n.status === 'deployed');
  const webservices = globalNodes.filter((n) => n.roles.includes('webservice'));
  // The VIP holder first: the cache clear runs once, on the node serving the API.
  webservices.sort((a, b) => Number(b.vip) - Number(a.vip));
  const zoocassa = globalNodes.filter((n) => n.roles.includes('zoocassa'));
  const nodes = newZone.nodes.map((n) => n.address);
  const proxies = newZone.nodes.filter((n) => n.roles.includes('proxy')).map((n) => n.address);
  const steps = addZoneSteps(input, {
    webservices: webservices.map((w) => w.mgmtIp),
    memcached: zoocassa.map((z) => z.hostname || z.mgmtIp),
    memcachedNodes: zoocassa.map((z) => validated('IPV4', z.mgmtIp, `mgmt_ip of ${z.nodeId}`)),
    filled,
  });
  return {
    kind: 'add',
    plan: makePlan(steps),
    nodes,
    proxies,
    globalWebservices: webservices.map((w) => w.mgmtIp),
  };
}

/** Rules enforced before anything runs; each message names what to change. */
function rules(input: NewZonePlanInput): Violation[] {
  const { zoneId, newZone, globalZone: gz } = input;
  const v: Violation[] = [];
  // The API refuses these too; a Zone written before the rules existed must not slip through.
  if (
    (newZone.cloudType as string) === 'public' ||
    !(CLOUD_TYPES as readonly string[]).includes(newZone.cloudType)
  ) {
    v.push({
      reason: 'CloudTypePublic',
      message: `spec.newZone.cloudType ${newZone.cloudType}: cloud_type must never be public (runbook R4); use ${CLOUD_TYPES.join(', ')}`,
    });
  }
  if (newZone.vbc && !newZone.vbc.mgmtIps.includes(newZone.vbc.master)) {
    v.push({
      reason: 'VbcMasterNotInMgmtIps',
      message: `spec.newZone.vbc.master ${newZone.vbc.master} must be one of vbc.mgmtIps (the VBC Master node is one of them, runbook R4)`,
    });
  }
  if (newZone.vbc) {
    const hypers = new Set(newZone.nodes.filter((n) => n.roles.includes('hyper')).map((n) => n.address));
    const off = newZone.vbc.mgmtIps.filter((ip) => !hypers.has(ip));
    if (off.length > 0) {
      v.push({
        reason: 'VbcNotOnHyper',
        message: `spec.newZone.vbc.mgmtIps ${off.join(', ')} are not hyper machines of spec.newZone.nodes: VBC is carried by the zone's hyper nodes (runbook R4)`,
      });
    }
  }
  if (!newZone.nodes.some((n) => n.roles.includes('proxy'))) {
    v.push({
      reason: 'NoProxy',
      message:
        'spec.newZone.nodes has no proxy machine: its haproxy must forward to the global webservices (runbook R4)',
    });
  }
  const noEips = newZone.nodes
    .filter((n) => n.roles.includes('vg') && (n.eips?.length ?? 0) === 0)
    .map((n) => n.address);
  if (noEips.length > 0) {
    v.push({
      reason: 'EipsRequired',
      message: `spec.newZone.nodes[].eips: VG nodes need EIP ranges prepared (R4); add the ranges ${noEips.join(', ')} serve(s)`,
    });
  }
  const unsafe = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      v.push({ reason: 'UnsafeValue', message: `${what}: ${err.message}` });
    }
  };
  unsafe('spec.zoneId', () => validated('ZONE_ID', zoneId, 'spec.zoneId'));
  for (const [i, n] of newZone.nodes.entries()) {
    unsafe(`spec.newZone.nodes[${i}]`, () =>
      validated('HOST', n.address, `spec.newZone.nodes[${i}].address`),
    );
  }

  const ref = newZone.globalZoneRef.name;
  if (!gz) {
    v.push({
      reason: 'GlobalZoneNotFound',
      message: `spec.newZone.globalZoneRef: Zone ${ref} does not exist in this namespace; create the global Zone or fix the reference`,
    });
    return v;
  }
  if (!gz.global) {
    v.push({
      reason: 'GlobalZoneRefNotGlobal',
      message: `spec.newZone.globalZoneRef: Zone ${ref} (${gz.zoneId}) is not the global zone (spec.global is false); name the region's global Zone`,
    });
  }
  if (gz.regionId && gz.regionId !== input.regionId) {
    v.push({
      reason: 'RegionMismatch',
      message: `spec.regionId ${input.regionId} differs from the global Zone ${ref}'s regionId ${gz.regionId}; a zone joins its own region`,
    });
  }
  const listedGlobal = input.platformZones?.find((z) => z.zoneId === gz.zoneId);
  if (!listedGlobal?.isGlobalZone) {
    v.push({
      reason: 'GlobalZoneNotOnPlatform',
      message: `firstbox ${listedGlobal ? 'lists' : 'does not list'} zone ${gz.zoneId}${listedGlobal ? ' but not as the global zone' : ''} (describe-zones.py); a new zone is added from the region's firstbox, which must know the global zone`,
    });
  } else if (listedGlobal.regionId && listedGlobal.regionId !== input.regionId) {
    v.push({
      reason: 'RegionMismatch',
      message: `the installer puts global zone ${gz.zoneId} in region ${listedGlobal.regionId}, not spec.regionId ${input.regionId}`,
    });
  }
  const globalNodes = input.platformNodes.filter((n) => n.zoneId === gz.zoneId && n.status === 'deployed');
  const webservices = globalNodes.filter((n) => n.roles.includes('webservice'));
  if (webservices.length === 0) {
    v.push({
      reason: 'NoGlobalWebservice',
      message: `firstbox lists no deployed webservice node in global zone ${gz.zoneId}: the zone cache clear, the ws_server/billing_resource restart and the proxies' api-front need them`,
    });
  }
  for (const w of webservices) {
    unsafe(`global webservice ${w.nodeId}`, () => validated('IPV4', w.mgmtIp, `mgmt_ip of ${w.nodeId}`));
  }
  const zoocassa = globalNodes.filter((n) => n.roles.includes('zoocassa'));
  if (zoocassa.length === 0) {
    v.push({
      reason: 'NoGlobalZoocassa',
      message: `firstbox lists no deployed zoocassa node in global zone ${gz.zoneId}: the memcache servers of the zone cache clear (operate_cache_by_re -S) are its zoocassa nodes`,
    });
  }
  for (const z of zoocassa) {
    unsafe(`zoocassa ${z.nodeId}`, () =>
      z.hostname
        ? validated('HOSTNAME', z.hostname, `hostname of ${z.nodeId}`)
        : validated('IPV4', z.mgmtIp, `mgmt_ip of ${z.nodeId}`),
    );
  }

  const byIp = new Map(input.platformNodes.map((n) => [n.mgmtIp, n]));
  for (const n of newZone.nodes) {
    const known = byIp.get(n.address);
    if (known && known.zoneId !== zoneId) {
      v.push({
        reason: 'NodeInAnotherZone',
        message: `${n.address} is known to the installer as ${known.nodeId} in zone ${known.zoneId} (status ${known.status}); remove it from spec.newZone.nodes`,
      });
    }
  }
  return v;
}

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
function filledFiles(input: NewZonePlanInput): { variables: string; settings: string } | Violation {
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

/** `exec_nodes.sh IP 'COMMAND'`: the installer's own reach into a node, from the firstbox. */
function onNode(ip: string, inner: ShellCommand, purpose: string): ShellCommand {
  return shell([EXEC_NODES, ip, inner.script], purpose);
}

// Constant programs (no interpolation): values arrive as argv.
const ZONE_LISTED_PY = [
  'import json, sys',
  'text = sys.stdin.read()',
  'try:',
  "    doc = json.loads(text[text.index('{'):])",
  "    zones = doc['zone_set']",
  'except Exception as e:',
  "    sys.stderr.write('describe-zones.py output not understood: %r\\n' % (e,))",
  '    sys.exit(2)',
  "sys.exit(0 if any(z.get('zone_id') == sys.argv[1] for z in zones) else 1)",
].join('\n');
const AWK_STRIP = '$0==b{s=1} !s{print} $0==e{s=0}';
const AWK_BLOCK = '$0==b{s=1} s{print} $0==e{s=0}';
const AWK_FOREIGN =
  '$0==b{s=1} !s && /^listen[ \\t]+(api|ws|io)-front([ \\t]|$)/{f=1} $0==e{s=0} END{exit !f}';

function zoneListed(zoneId: string): ShellCommand {
  return sh(
    'zone listed?',
  )`out=$(/pitrix/cli/describe-zones.py -f json) || exit 2; printf '%s\n' "$out" | python3 -c ${ZONE_LISTED_PY} ${zoneId}`;
}

/** 0 when the zone is listed and every machine deployed, 1 when not, 2 when either answer is unreadable. */
function scaleZoneDone(zoneId: string, ips: readonly string[]): ShellCommand {
  const deployed = checks.nodesInStatus(ips, ['deployed'], 'nodes deployed?');
  return sh(
    'zone added?',
  )`${zoneListed(zoneId)}; z=$?; [ $z -le 1 ] || exit 2; ${deployed}; d=$?; [ $d -le 1 ] || exit 2; [ $z = 0 ] && [ $d = 0 ]`;
}

function verifyAvailable(stdout: string, ips: readonly string[]): string | undefined {
  let listed: Set<string>;
  try {
    const doc = JSON.parse(stdout.slice(Math.max(0, stdout.indexOf('{')))) as {
      node_set?: Array<{ mgmt_ip?: string }>;
    };
    listed = new Set((doc.node_set ?? []).map((n) => n.mgmt_ip ?? ''));
  } catch (err) {
    return `describe-nodes output unreadable: ${(err as Error).message}`;
  }
  const missing = ips.filter((ip) => !listed.has(ip));
  return missing.length ? `not listed as available after collection: ${missing.join(', ')}` : undefined;
}

function addZoneSteps(
  input: NewZonePlanInput,
  g: {
    webservices: string[];
    memcached: string[];
    memcachedNodes: string[];
    filled: { variables: string; settings: string };
  },
): Step[] {
  const { newZone } = input;
  const zoneId = validated('ZONE_ID', input.zoneId, 'spec.zoneId');
  const regionId = validated('ZONE_ID', input.regionId ?? '', 'spec.regionId');
  const gz = input.globalZone!;
  const ips = newZone.nodes.map((n, i) => validated('HOST', n.address, `spec.newZone.nodes[${i}].address`));
  const list = newZoneListPath(zoneId);
  const vars = variablesPath(zoneId);
  const settings = settingsPath(zoneId);
  const fb = { kind: 'firstbox' } as const;
  const steps: Step[] = [];
  const listText = `${ips.join('\n')}\n`;
  const R = `R4 new zone ${zoneId} in region ${regionId}:`;

  steps.push({
    id: 'writeNodeList',
    description: `${R} write the ${ips.length} machine address(es) to ${list}`,
    host: fb,
    command: sh('write the node list')`mkdir -p /pitrix/conf/operator && printf '%s' ${listText} > ${list}`,
    check: fileHasContent(list, listText, 'node list already written?'),
    timeoutMs: MIN,
  });
  steps.push({
    id: 'addNodes',
    description: `${R} add the machines to the installer in zone ${zoneId} (add-nodes.py -z)`,
    host: fb,
    command: shell(['/pitrix/cli/add-nodes.py', '-I', list, '-z', zoneId], 'add nodes'),
    check: checks.nodesInStatus(ips, ['new', 'collected', 'available', 'deployed'], 'nodes already added?'),
    timeoutMs: 10 * MIN,
  });
  steps.push(
    guardedStep(
      {
        id: 'collectNodes',
        description: `${R} collect hardware facts (collect-nodes.py); never re-run after deployment`,
        host: fb,
        command: shell(['/pitrix/cli/collect-nodes.py', '-I', list], 'collect nodes'),
        check: checks.nodesInStatus(ips, ['collected', 'available', 'deployed'], 'nodes already collected?'),
        timeoutMs: HOUR,
      },
      { lockScope: zoneId, inputs: [listText] },
    ),
  );
  steps.push({
    id: 'verifyNodes',
    description: `${R} verify the collected facts (describe-nodes.py -s available)`,
    host: fb,
    command: shell(
      ['/pitrix/cli/describe-nodes.py', '-s', 'available', '-f', 'json'],
      'describe available nodes',
    ),
    check: checks.nodesInStatus(ips, ['deployed'], 'nodes already deployed?'),
    verify: (stdout) => verifyAvailable(stdout, ips),
    timeoutMs: 5 * MIN,
    readOnly: true,
  });
  const varsText = g.filled.variables;
  const settingsText = g.filled.settings;
  steps.push(
    ...copyAndFillSteps({
      name: 'Variables',
      R,
      template: VARIABLES_TEMPLATE,
      templateText: input.files![VARIABLES_TEMPLATE]!.text!,
      target: vars,
      filled: varsText,
      journal: input.journal,
      keys: variablesFills(input).map((f) => f.key),
    }),
    ...copyAndFillSteps({
      name: 'Settings',
      R,
      template: SETTINGS_TEMPLATE,
      templateText: input.files![SETTINGS_TEMPLATE]!.text!,
      target: settings,
      filled: settingsText,
      journal: input.journal,
      keys: [...new Set(settingsFills(input).map((f) => (f.sub ? `${f.key}.${f.sub.join('.')}` : f.key)))],
    }),
  );
  steps.push(
    guardedStep(
      {
        id: 'configQingcloud',
        description: `${R} configure the zone (config-qingcloud.py -v variables -s settings)`,
        host: fb,
        command: shell(
          ['/pitrix/cli/config-qingcloud.py', '-v', vars, '-s', settings],
          'configure the new zone',
        ),
        check: zoneListed(zoneId),
        timeoutMs: HOUR,
      },
      { lockScope: zoneId, inputs: [varsText, settingsText, listText] },
    ),
  );
  steps.push(
    guardedStep(
      {
        id: 'scaleQingcloudZone',
        description: `${R} deploy the zone (scale-qingcloud-zone.py -z ${zoneId}); long`,
        host: fb,
        command: shell(
          ['/pitrix/cli/scale-qingcloud-zone.py', '-z', zoneId, '-I', list],
          'deploy the new zone',
        ),
        check: scaleZoneDone(zoneId, ips),
        timeoutMs: 6 * HOUR,
      },
      { lockScope: zoneId, inputs: [varsText, settingsText, listText] },
    ),
  );

  const [cacheNode] = g.webservices;
  const servers = g.memcached.map((h) => `${h}:${MEMCACHED_PORT}`).join(';');
  const clear = onNode(
    cacheNode!,
    shell([OPERATE_CACHE, '-S', servers, '-A', 'delete', '-P', CACHE_PATTERN, '-F'], 'clear the zone cache'),
    `clear the zone cache on global webservice ${cacheNode}`,
  );
  // The original's fallback: "you can try restarting the global memcached service" (console logins
  // falter briefly). ASSUMPTION: memcached runs on the global zoocassa nodes (the -S servers) as the
  // init service `memcached`; restarted one at a time, each checked running before the next.
  const restarts = g.memcachedNodes.map((z) =>
    onNode(
      z,
      and([
        shell(['service', 'memcached', 'restart'], 'restart memcached'),
        shell(['service', 'memcached', 'status'], 'check memcached'),
      ]),
      `restart memcached on global zoocassa ${z}`,
    ),
  );
  const fallback = sh(
    'report the failed cache clear',
  )`echo 'operate_cache_by_re failed: restarting the global memcached service (runbook R4 fallback)' >&2`;
  steps.push({
    id: 'clearZoneCache',
    description: `${R} clear the zone cache in memcache on global webservice ${cacheNode} (operate_cache_by_re -A delete -P ${CACHE_PATTERN}); if that fails, restart memcached on the global zoocassa nodes one at a time`,
    host: fb,
    command: or([clear, and([fallback, ...restarts])]),
    idempotent: true,
    timeoutMs: 10 * MIN,
  });
  for (const ws of g.webservices) {
    steps.push({
      id: `restartGlobalServices-${ws}`,
      description: `${R} restart ws_server and billing_resource on global webservice ${ws}, then check they run (one node at a time)`,
      host: fb,
      command: onNode(
        ws,
        and([
          shell(['supervisorctl', 'restart', 'ws_server', 'billing_resource'], 'restart'),
          shell(['supervisorctl', 'status', 'ws_server', 'billing_resource'], 'check'),
        ]),
        `restart ws_server billing_resource on global webservice ${ws}`,
      ),
      idempotent: true,
      timeoutMs: 10 * MIN,
    });
  }

  const block = renderListeners(g.webservices, newZone.globalApiProtocol, gz.zoneId);
  for (const proxy of newZone.nodes.filter((n) => n.roles.includes('proxy'))) {
    const ip = validated('HOST', proxy.address, 'spec.newZone.nodes[].address');
    const write = sh(
      'add the region listeners',
    )`f=${HAPROXY_CFG}; if [ ! -f "$f" ]; then echo "$f not found: is haproxy deployed on this proxy?" >&2; exit 1; fi; if awk -v b=${BLOCK_BEGIN} -v e=${BLOCK_END} ${AWK_FOREIGN} "$f"; then echo "$f already defines api-front/ws-front/io-front outside the operator's block; merge them by hand (runbook R4)" >&2; exit 1; fi; [ -f "$f.pre-operator" ] || cp -p "$f" "$f.pre-operator"; awk -v b=${BLOCK_BEGIN} -v e=${BLOCK_END} ${AWK_STRIP} "$f" > "$f.operator-new" && printf '%s' ${block} >> "$f.operator-new" && mv "$f.operator-new" "$f"`;
    const present = sh(
      'listeners already there?',
    )`[ "$(awk -v b=${BLOCK_BEGIN} -v e=${BLOCK_END} ${AWK_BLOCK} ${HAPROXY_CFG})" = "$(printf '%s' ${block})" ]`;
    steps.push({
      id: `haproxyListeners-${ip}`,
      description: `${R} add haproxy listeners api-front (7777 → global webservices :${newZone.globalApiProtocol === 'https' ? 443 : 7777}), ws-front (8565), io-front (8000) on proxy ${ip}`,
      host: fb,
      command: onNode(ip, write, `add haproxy listeners on proxy ${ip}`),
      check: onNode(ip, present, `haproxy listeners already on proxy ${ip}?`),
      timeoutMs: 5 * MIN,
    });
    steps.push({
      id: `restartHaproxy-${ip}`,
      description: `${R} restart haproxy on proxy ${ip} and check it runs before the next proxy`,
      host: fb,
      command: onNode(
        ip,
        and([
          shell(['service', 'haproxy', 'restart'], 'restart'),
          shell(['service', 'haproxy', 'status'], 'check'),
        ]),
        `restart haproxy on proxy ${ip}`,
      ),
      idempotent: true,
      timeoutMs: 5 * MIN,
    });
  }
  return steps;
}
