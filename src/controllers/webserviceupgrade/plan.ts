/**
 * Runbook R5 (rebuild the webservice VMs of a zone on a new OS, one at a time) as a pure function:
 * from the upgrade's spec, the zone, the installer's node list, each node's original settings and
 * what already finished, decide which rules are broken, the order (nodes without the VIP first,
 * the VIP holder last) and the journaled steps. No I/O here: the golden-plan tests run this.
 *
 * Every value that reaches a shell comes from the API (validated by its pattern) or from the
 * platform (node ids, addresses, physical hosts, bridges), and is validated here before use.
 */
import type { UpgradeNodePhase, WebserviceUpgradeSpec } from '../../api/webserviceupgrade.js';
import type { PlatformNode } from '../../facts/types.js';
import { installerAtLeast } from '../../facts/version.js';
import { makePlan, type PlannedRunbook, type Step } from '../../runbook/step.js';
import { and, seq, sh, shell, validated } from '../../ssh/command.js';
import { parseKnownHosts } from '../../ssh/hostkeys.js';
import type { ShellCommand } from '../../ssh/types.js';
import { verifySupervisor } from './checks.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** `/pitrix/conf/settings/NODE` as the installer writes it (platform-interface: YAML). */
export interface NodeSettings {
  hostname?: string;
  role?: string;
  zoneId?: string;
  mgmtIp?: string;
  mgmtMac?: string;
  physicalHost?: string;
  bridge?: string;
  osName?: string;
  osVersion?: string;
  cpu?: number;
  memoryMb?: number;
}

export interface UpgradeZoneView {
  zoneId: string;
  global: boolean;
  installerVersion: string;
}

export interface UpgradePlanInput {
  /** metadata.name of the WebserviceUpgrade: names backups and markers. */
  name: string;
  spec: WebserviceUpgradeSpec;
  zone: UpgradeZoneView;
  /** The installer's node list (describe-nodes.py -s all), with `vip` observed now. */
  platformNodes: PlatformNode[];
  /** Each node's settings as they were before this upgrade touched them (the dated backup). */
  settings: Record<string, NodeSettings | undefined>;
  /** The zone's recorded webservice_floating_ip, if any. */
  floatingIp?: string;
  /** UTC date the rollout started, `YYYYMMDD`: names the settings backup. */
  backupSuffix: string;
  /** Nodes whose rebuild finished, in the order they finished. */
  done: readonly string[];
  /** Nodes whose rebuild started and has not finished (normally at most one). */
  started: readonly string[];
  /** holdsVip as recorded when a node started (observed, never re-assumed afterwards). */
  recordedVip?: Readonly<Record<string, boolean>>;
}

export interface Violation {
  reason: string;
  message: string;
}

export interface PlannedNode {
  name: string;
  address: string;
  holdsVip: boolean;
  physicalHost: string;
  newPhysicalHost: string;
  temporaryAddress?: string;
}

export interface UpgradePlan {
  violations: Violation[];
  /** Nodes in the order they are rebuilt. */
  order: PlannedNode[];
  plan: PlannedRunbook;
  /** Step ids of the one-time preparation. */
  prepSteps: string[];
  /** Step ids per node, in order; the first one is where a node "starts". */
  nodeSteps: Record<string, string[]>;
  /** Steps whose output is a host key to re-pin for a node. */
  repinSteps: Record<string, { node: string; address: string }>;
  /** Whether a floating IP is in use (keepalived is configured per node). */
  floatingIp?: string;
}

export const PACKAGES = {
  global: 'global-webservice,global-website',
  sub: 'pitrix-ks-api,pitrix-ks-cli,zone-webservice',
} as const;

export const settingsPath = (node: string) => `/pitrix/conf/settings/${node}`;
export const settingsBackupDir = (suffix: string) => `/pitrix/conf/settings.${suffix}`;
export const nodeBackupDir = (node: string, name: string) => `/root/${node}-bak/${name}`;
const VM_DIR = '/pitrix/vm';
const WS_BASE = '/pitrix/build/packages/deb/pitrix-ks-webservice-base';
const NGINX_CONF = `${WS_BASE}/pitrix/ks/webservice-base/conf/nginx/nginx.conf`;
const KEEPALIVED = `${WS_BASE}/etc/keepalived`;
const KEYS_DIR = '/pitrix/conf/variables/keys';
const VARIABLES_YAML = '/pitrix/conf/variables/variables.yaml';
const floatingIpFile = (zoneId: string) => `/pitrix/conf/variables/webservice_floating_ip.${zoneId}`;

/** Where the floating IP is recorded: variables.yaml from installer 4.3.0, a per-zone file before. */
export function floatingIpLocation(zone: UpgradeZoneView): { file: string; key?: string } {
  return installerAtLeast(zone.installerVersion, '4.3.0')
    ? { file: VARIABLES_YAML, key: 'webservice_floating_ip' }
    : { file: floatingIpFile(zone.zoneId) };
}

/** The R5.2 tools: `.py` from installer 4.3.0, `.sh` before. */
export function installerTools(version: string): { genNodeList: string; buildAllinone: string } {
  const py = installerAtLeast(version, '4.3.0');
  return {
    genNodeList: py ? '/pitrix/bin/gen_node_list.py' : '/pitrix/bin/gen_node_list.sh',
    buildAllinone: py ? '/pitrix/build/build_pkgs_allinone.py' : '/pitrix/build/build_pkgs_allinone.sh',
  };
}

/** Which webservice nodes the upgrade rebuilds: spec.nodes, or every webservice node of the zone. */
export function targetNodes(
  spec: WebserviceUpgradeSpec,
  zoneId: string,
  nodes: readonly PlatformNode[],
): { targets: PlatformNode[]; violations: Violation[] } {
  const ws = nodes.filter((n) => n.zoneId === zoneId && n.roles.includes('webservice'));
  const violations: Violation[] = [];
  if (!spec.nodes?.length) {
    if (ws.length === 0)
      violations.push({
        reason: 'NoWebserviceNodes',
        message: `the installer lists no webservice node in zone ${zoneId}; check the Zone's zoneId`,
      });
    return { targets: ws, violations };
  }
  const targets: PlatformNode[] = [];
  for (const name of spec.nodes) {
    const n = ws.find((x) => x.nodeId === name);
    if (n) targets.push(n);
    else
      violations.push({
        reason: 'UnknownNode',
        message: `spec.nodes: ${name} is not a webservice node of zone ${zoneId} (have: ${ws.map((x) => x.nodeId).join(', ') || 'none'})`,
      });
  }
  return { targets, violations };
}

/** The physical host each node moves to: the next distinct host of the set ("the pair swapped"). */
export function swapPhysicalHosts(
  nodes: readonly { name: string; physicalHost: string }[],
): Record<string, string> {
  // Sorted, so the mapping does not depend on the rollout order (which follows the VIP).
  const hosts = [...new Set(nodes.map((n) => n.physicalHost))].sort();
  return Object.fromEntries(
    nodes.map((n) => [n.name, hosts[(hosts.indexOf(n.physicalHost) + 1) % hosts.length]!]),
  );
}

/** Exit 0 when something answers on ADDRESS:22 (bash's /dev/tcp; no extra tools on firstbox). */
export function sshPortOpen(address: string): ShellCommand {
  return shell(
    ['timeout', '3', 'bash', '-c', 'exec 3<>/dev/tcp/$0/22', address],
    `probe ssh port of ${address}`,
  );
}

function execNodes(target: string, inner: ShellCommand, purpose: string, force = false): ShellCommand {
  return shell(['/pitrix/upgrade/exec_nodes.sh', ...(force ? ['-f'] : []), target, inner.script], purpose);
}

function majorMinor(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

export function renderNodeSettings(
  name: string,
  upgrade: string,
  s: NodeSettings,
  next: { mgmtIp: string; physicalHost: string; osName: string; osVersion: string },
): { text: string; marker: string } {
  const marker = `# pitrix-operator WebserviceUpgrade/${upgrade}: rebuild on ${next.osName} ${next.osVersion} (R5.1)`;
  const lines = [
    `# settings of ${name}`,
    marker,
    `hostname: ${s.hostname ?? name}`,
    `role: ${s.role ?? 'webservice'}`,
    `zone_id: ${s.zoneId ?? ''}`,
    `mgmt_ip: ${next.mgmtIp}`,
    // Replaced by the output of gen_mac.py when the step runs.
    "mgmt_mac: '@MAC@'",
    `physical_host: ${next.physicalHost}`,
    `bridge: ${s.bridge ?? 'br0'}`,
    `os_name: ${next.osName}`,
    `os_version: '${next.osVersion}'`,
  ];
  if (s.cpu !== undefined) lines.push(`cpu: ${s.cpu}`);
  if (s.memoryMb !== undefined) lines.push(`memory_mb: ${s.memoryMb}`);
  return { text: `${lines.join('\n')}\n`, marker };
}

// A constant program: file paths and the zone kind arrive as argv; values never printed.
const REFRESH_KEYS_PY = [
  'import os, re, sys',
  'kind, client, console, keys = sys.argv[1:5]',
  'os.makedirs(keys, exist_ok=True)',
  'def read(path, names):',
  '    text = open(path).read()',
  '    out = {}',
  '    for n in names:',
  '        m = re.search(r"^\\s*%s\\s*[:=]\\s*[\'\\"]?([^\'\\"\\s]+)" % re.escape(n), text, re.M)',
  '        if not m:',
  '            sys.exit("%s: %s not found" % (path, n))',
  '        out[n] = m.group(1)',
  '    return out',
  'def put(name, value):',
  '    p = os.path.join(keys, name)',
  '    fd = os.open(p + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)',
  '    os.write(fd, value.encode())',
  '    os.close(fd)',
  '    os.rename(p + ".tmp", p)',
  '    print("refreshed " + p)',
  'c = read(client, ["qy_access_key_id", "qy_secret_access_key"])',
  'put(".access_key_id", c["qy_access_key_id"])',
  'put(".access_secret_key", c["qy_secret_access_key"])',
  'if kind == "global":',
  '    w = read(console, ["console_key_id", "console_secrect_key"])',
  '    put(".console_key_id", w["console_key_id"])',
  '    put(".console_secret_key", w["console_secrect_key"])',
].join('\n');

/** Kinds of the per-node rollout steps (prep steps such as `backupNode-N` are not among them). */
export const NODE_STEP_KINDS = [
  'preflight',
  'writeNodeSettings',
  'checkBridge',
  'genNodeList',
  'stopServices',
  'keepOldImage',
  'launchVm',
  'installNode',
  'nginxConfig',
  'keepalived',
  'deployServices',
  'restoreAddress',
  'removeStaleHostKeys',
  'repinHostKey',
  'verifyServices',
  'healthGate',
];

/** Whether a step id is one of a node's rollout steps (what "the node started" is judged by). */
export function isNodeStep(id: string): boolean {
  return NODE_STEP_KINDS.includes(id.split('-')[0]!);
}

/** Which part of R5 a step id belongs to, for the node's phase. */
export function phaseOfStep(id: string): UpgradeNodePhase {
  const kind = id.split('-')[0]!;
  if (['preflight', 'writeNodeSettings', 'checkBridge', 'genNodeList'].includes(kind)) return 'Preparing';
  if (['stopServices', 'keepOldImage', 'launchVm', 'installNode', 'nginxConfig', 'keepalived'].includes(kind))
    return 'Rebuilding';
  if (['deployServices', 'restoreAddress', 'removeStaleHostKeys', 'repinHostKey'].includes(kind))
    return 'Deploying';
  return 'Verifying';
}

export function planUpgrade(input: UpgradePlanInput): UpgradePlan {
  const { spec, zone, name } = input;
  const violations: Violation[] = [];
  const zoneId = validated('ZONE_ID', zone.zoneId, 'zone.spec.zoneId');
  const upgrade = validated('K8S_NAME', name, 'metadata.name');
  const { targets, violations: tv } = targetNodes(spec, zoneId, input.platformNodes);
  violations.push(...tv);

  // Observed VIP for nodes not yet started; what was recorded for the others.
  const holdsVip = (n: PlatformNode) =>
    input.done.includes(n.nodeId) || input.started.includes(n.nodeId)
      ? (input.recordedVip?.[n.nodeId] ?? n.vip)
      : n.vip;
  const pending = targets.filter((n) => !input.done.includes(n.nodeId) && !input.started.includes(n.nodeId));
  const ordered = [
    ...input.done.map((d) => targets.find((t) => t.nodeId === d)).filter((x): x is PlatformNode => !!x),
    ...targets.filter((n) => input.started.includes(n.nodeId)),
    ...pending.filter((n) => !n.vip),
    ...pending.filter((n) => n.vip),
  ];

  const planned: PlannedNode[] = [];
  const listed = new Set(input.platformNodes.map((n) => n.mgmtIp));
  ordered.forEach((n, i) => {
    const s = input.settings[n.nodeId];
    if (!s?.physicalHost) {
      violations.push({
        reason: 'SettingsMissing',
        message: `${n.nodeId}: /pitrix/conf/settings/${n.nodeId} on firstbox has no physical_host; R5 rebuilds VMs only (restore the node's settings file)`,
      });
      return;
    }
    const temp = spec.temporaryAddresses?.length
      ? spec.temporaryAddresses[i % spec.temporaryAddresses.length]
      : undefined;
    if (temp && listed.has(temp))
      violations.push({
        reason: 'TemporaryAddressInUse',
        message: `spec.temporaryAddresses: ${temp} belongs to a node in the installer's list; use an unused address`,
      });
    planned.push({
      name: validated('NODE_ID', n.nodeId, 'installer node id'),
      address: validated('IPV4', n.mgmtIp, `mgmt_ip of ${n.nodeId}`),
      holdsVip: holdsVip(n),
      physicalHost: validated('NODE_ID', s.physicalHost, `physical_host of ${n.nodeId}`),
      newPhysicalHost: '',
      ...(temp ? { temporaryAddress: temp } : {}),
    });
  });
  const swap = swapPhysicalHosts(planned);
  for (const p of planned) p.newPhysicalHost = swap[p.name]!;

  if (spec.floatingIP && input.floatingIp && spec.floatingIP !== input.floatingIp)
    violations.push({
      reason: 'FloatingIPMismatch',
      message: `spec.floatingIP ${spec.floatingIP} differs from the zone's recorded webservice_floating_ip ${input.floatingIp}; remove spec.floatingIP or make them equal`,
    });
  const floatingIp = input.floatingIp ?? spec.floatingIP;

  const empty: UpgradePlan = {
    violations,
    order: planned,
    plan: makePlan([]),
    prepSteps: [],
    nodeSteps: {},
    repinSteps: {},
    ...(floatingIp ? { floatingIp } : {}),
  };
  if (violations.length > 0 || planned.length === 0) return empty;

  const fb = { kind: 'firstbox' } as const;
  const steps: Step[] = [];
  const prepSteps: string[] = [];
  const nodeSteps: Record<string, string[]> = {};
  const repinSteps: UpgradePlan['repinSteps'] = {};
  const tools = installerTools(zone.installerVersion);
  const backup = settingsBackupDir(validated('OS_VERSION', input.backupSuffix, 'backup date'));
  const backupMarker = `${backup}/.pitrix-operator-${upgrade}`;

  // ---- preparation, once ----
  const prep = (s: Step) => {
    steps.push(s);
    prepSteps.push(s.id);
  };
  prep({
    id: 'backupSettings',
    description: `R5 prep: dated backup of /pitrix/conf/settings to ${backup}`,
    host: fb,
    command: sh(
      'back up settings',
    )`mkdir -p ${backup} && cp -a /pitrix/conf/settings/. ${backup}/ && touch ${backupMarker}`,
    check: shell(['test', '-f', backupMarker], 'settings backup taken?'),
    timeoutMs: 5 * MIN,
  });
  for (const n of planned) {
    const dir = nodeBackupDir(n.name, upgrade);
    const copies = [
      `${n.name}:/etc/rc.local*`,
      `${n.name}:/pitrix/lib/pitrix-webconsole/static`,
      `${n.name}:/pitrix/lib/pitrix-webconsole/mysite/local_config.yaml`,
      `${n.name}:/pitrix/conf/client.yaml`,
      ...(zone.global ? [`${n.name}:/pitrix/conf/web_console_settings.py`] : []),
    ].map((src) => shell(['rsync', '-azPS', src, `${dir}/`], `back up ${src}`));
    prep({
      id: `backupNode-${n.name}`,
      description: `R5 prep: back up rc.local*, the console static dir (logo), local_config.yaml and keys of ${n.name} to firstbox ${dir}`,
      host: fb,
      command: and(
        [
          shell(['mkdir', '-p', dir], 'make backup dir'),
          ...copies,
          shell(['touch', `${dir}/.complete`], 'mark backup'),
        ],
        `back up ${n.name}`,
      ),
      check: shell(['test', '-f', `${dir}/.complete`], 'node backup taken?'),
      timeoutMs: 10 * MIN,
    });
  }
  if (spec.floatingIP && !input.floatingIp) {
    const ip = validated('IPV4', spec.floatingIP, 'spec.floatingIP');
    const loc = floatingIpLocation(zone);
    const line = loc.key ? `${loc.key}: ${ip}` : ip;
    prep({
      id: 'assignFloatingIp',
      description: `R5 prep: record webservice_floating_ip ${ip} in ${loc.file} (installer ${zone.installerVersion}${loc.key ? ' ≥' : ' <'} 4.3.0)`,
      host: fb,
      command: loc.key
        ? sh(
            'record floating ip',
          )`mkdir -p /pitrix/conf/variables && touch ${loc.file} && sed -i '/^webservice_floating_ip:/d' ${loc.file} && printf '%s\\n' ${line} >> ${loc.file}`
        : sh('record floating ip')`mkdir -p /pitrix/conf/variables && printf '%s\\n' ${line} > ${loc.file}`,
      check: shell(['grep', '-qxF', line, loc.file], 'floating ip recorded?'),
      timeoutMs: MIN,
    });
  }
  // Independent of the order (which follows the VIP), so a re-plan never changes this step.
  const first = [...planned].sort((a, b) => a.name.localeCompare(b.name))[0]!;
  const firstBackup = nodeBackupDir(first.name, upgrade);
  prep({
    id: 'refreshKeys',
    description: zone.global
      ? `R5 prep (global zone): refresh access and console keys in ${KEYS_DIR} from ${first.name}'s client.yaml and web_console_settings.py`
      : `R5 prep (sub zone): refresh access keys in ${KEYS_DIR} from ${first.name}'s client.yaml`,
    host: fb,
    command: shell(
      [
        'python3',
        '-c',
        REFRESH_KEYS_PY,
        zone.global ? 'global' : 'sub',
        `${firstBackup}/client.yaml`,
        `${firstBackup}/web_console_settings.py`,
        KEYS_DIR,
      ],
      'refresh keys',
    ),
    idempotent: true,
    timeoutMs: MIN,
  });

  // ---- per node, one at a time ----
  for (const n of planned) {
    const ids: string[] = [];
    const add = (s: Step) => {
      steps.push(s);
      ids.push(s.id);
    };
    const s = input.settings[n.name]!;
    const file = settingsPath(n.name);
    const bridge = validated('DEVICE', s.bridge ?? 'br0', `bridge of ${n.name}`);
    const osName = spec.target.osName;
    const osVersion = spec.target.osVersion;
    const node = { kind: 'node', address: n.address, port: 22 } as const;

    add({
      id: `preflight-${n.name}`,
      description: `R5 before ${n.name}: it answers over SSH with its pinned host key and every supervisor program is RUNNING`,
      host: node,
      command: shell(['supervisorctl', 'status'], 'check services before the rebuild'),
      acceptExitCodes: [0, 3],
      verify: (out) => verifySupervisor(out, n.name),
      idempotent: true,
      timeoutMs: 2 * MIN,
    });
    const rendered = renderNodeSettings(n.name, upgrade, s, {
      mgmtIp: n.temporaryAddress ?? n.address,
      physicalHost: n.newPhysicalHost,
      osName,
      osVersion,
    });
    const write = sh(
      'write node settings',
    )`mac=$(/pitrix/install/gen_mac.py) && test -n "$mac" && printf '%s' ${rendered.text} | sed "s/@MAC@/$mac/" > ${`${file}.tmp`} && mv ${`${file}.tmp`} ${file}`;
    add({
      id: `writeNodeSettings-${n.name}`,
      description:
        `R5.1 write settings/${n.name}: ${n.temporaryAddress ? `temporary address ${n.temporaryAddress} (verified unused)` : `its own address ${n.address}`}, ` +
        `a new MAC from gen_mac.py, physical host ${n.physicalHost} → ${n.newPhysicalHost}, ${osName} ${osVersion}`,
      host: fb,
      command: n.temporaryAddress
        ? sh(
            'write node settings',
          )`if ${sshPortOpen(n.temporaryAddress)}; then echo ${`temporary address ${n.temporaryAddress} answers on port 22: it is in use; pick another in spec.temporaryAddresses`} >&2; exit 1; fi; ${write}`
        : write,
      check: shell(['grep', '-qxF', rendered.marker, file], 'settings already written?'),
      timeoutMs: 2 * MIN,
    });
    add({
      id: `checkBridge-${n.name}`,
      description: `R5.1 bridge ${bridge} exists on ${n.newPhysicalHost}`,
      host: fb,
      command: execNodes(
        n.newPhysicalHost,
        shell(['ip', '-o', 'link', 'show', bridge], 'show bridge'),
        'check bridge',
      ),
      verify: (out) =>
        new RegExp(`: ${bridge}[:@]`).test(out)
          ? undefined
          : `bridge ${bridge} not found on ${n.newPhysicalHost}; fix bridge in /pitrix/conf/settings/${n.name}`,
      idempotent: true,
      timeoutMs: 2 * MIN,
    });
    add({
      id: `genNodeList-${n.name}`,
      description: `R5.2 refresh the node list and build packages (${tools.genNodeList.split('/').pop()}, ${tools.buildAllinone.split('/').pop()})`,
      host: fb,
      command: and(
        [shell([tools.genNodeList], 'generate node list'), shell([tools.buildAllinone], 'build packages')],
        'node list and package build',
      ),
      idempotent: true,
      timeoutMs: HOUR,
    });
    const down = sshPortOpen(n.address);
    add({
      id: `stopServices-${n.name}`,
      description: `R5.3 on ${n.name}: supervisorctl stop all, shutdown -h now; wait until it is off`,
      host: fb,
      command: sh(
        'stop services and shut down',
      )`if ${down}; then ${execNodes(n.name, sh('stop and power off')`supervisorctl stop all; shutdown -h now`, 'stop and power off')} || true; fi; i=0; while ${down}; do i=$((i+1)); if [ "$i" -ge 120 ]; then echo ${`${n.name} (${n.address}) still answers on port 22 after shutdown`} >&2; exit 1; fi; sleep 1; done; echo ${`${n.name} is off`}`,
      check: sh('node already off?')`! ${down}`,
      destructive: true,
      timeoutMs: 5 * MIN,
    });
    const img = `${VM_DIR}/${n.name}.img`;
    const xml = `${VM_DIR}/${n.name}.xml`;
    const oldImg = `${VM_DIR}/old-${n.name}.img`;
    const oldXml = `${VM_DIR}/old-${n.name}.xml`;
    add({
      id: `keepOldImage-${n.name}`,
      description: `R5.3 on ${n.physicalHost}: keep the old image (old-${n.name}.img, old-${n.name}.xml), remove ${n.name}.Done`,
      host: fb,
      command: execNodes(
        n.physicalHost,
        sh(
          'keep old image',
        )`rm -f ${`${VM_DIR}/${n.name}.Done`} && { test ! -e ${img} || mv ${img} ${oldImg}; } && { test ! -e ${xml} || mv ${xml} ${oldXml}; }`,
        'keep old image',
      ),
      check: execNodes(
        n.physicalHost,
        sh('old image kept?')`test ! -e ${img} && test ! -e ${xml} && test -e ${oldImg}`,
        'old image kept?',
      ),
      timeoutMs: 10 * MIN,
    });
    add({
      id: `launchVm-${n.name}`,
      description: `R5.4 launch ${n.name} afresh on ${n.newPhysicalHost} (launch_vms.sh -f)`,
      host: fb,
      command: shell(['/pitrix/install/launch_vms.sh', '-f', n.name], 'launch vm'),
      check: and(
        [
          shell(['grep', '-qxF', rendered.marker, file], 'settings of this rebuild?'),
          sh(
            'vm up on the target os?',
          )`${execNodes(n.name, shell(['lsb_release', '-rs'], 'os release'), 'os release')} | grep -qx ${majorMinor(osVersion)}`,
        ],
        'vm already launched?',
      ),
      timeoutMs: 30 * MIN,
    });
    add({
      id: `installNode-${n.name}`,
      description: `R5.4 install the base system on ${n.name} (install_nodes.sh)`,
      host: fb,
      command: shell(['/pitrix/install/install_nodes.sh', n.name], 'install node'),
      idempotent: true,
      timeoutMs: HOUR,
    });
    add({
      id: `nginxConfig-${n.name}`,
      description: `R5.4 copy the built nginx.conf to ${n.name} and restart nginx`,
      host: fb,
      command: and(
        [
          shell(['rsync', '-azPS', NGINX_CONF, `${n.name}:/etc/nginx/`], 'copy nginx.conf'),
          execNodes(n.name, shell(['service', 'nginx', 'restart'], 'restart nginx'), 'restart nginx', true),
        ],
        'nginx config',
      ),
      idempotent: true,
      timeoutMs: 5 * MIN,
    });
    if (floatingIp) {
      const hook = '/etc/keepalived/rc.local.keepalived.webservice';
      add({
        id: `keepalived-${n.name}`,
        description: `R5.5 keepalived on ${n.name} for floating IP ${floatingIp}: health check, config, rc.local hook (once), restart`,
        host: fb,
        command: and(
          [
            shell(
              ['rsync', '-azPS', `${KEEPALIVED}/chk_health_webservice.sh`, `${n.name}:/etc/keepalived/`],
              'copy health check',
            ),
            shell(
              [
                'rsync',
                '-azPS',
                `${KEEPALIVED}/rc.local.keepalived.webservice`,
                `${n.name}:/etc/keepalived/`,
              ],
              'copy rc.local hook',
            ),
            shell(
              [
                'rsync',
                '-azPS',
                `${KEEPALIVED}/keepalived.conf.webservice.${n.name}`,
                `${n.name}:/etc/keepalived/keepalived.conf`,
              ],
              'copy keepalived.conf',
            ),
            execNodes(
              n.name,
              sh(
                'keepalived and rc.local hook',
              )`service keepalived restart && { grep -qxF "$(head -n 1 ${hook})" /etc/rc.local || { sed -i '/^exit 0/d' /etc/rc.local && cat ${hook} >> /etc/rc.local && echo 'exit 0' >> /etc/rc.local; }; } && rm -f ${hook}`,
              'keepalived',
            ),
          ],
          'keepalived',
        ),
        idempotent: true,
        timeoutMs: 5 * MIN,
      });
    }
    const pkgs = zone.global ? PACKAGES.global : PACKAGES.sub;
    add({
      id: `deployServices-${n.name}`,
      description: `R5.6 deploy the ${zone.global ? 'global' : 'sub'} zone webservice packages on ${n.name} (update.sh ${pkgs})`,
      host: fb,
      command: shell(['/pitrix/upgrade/update.sh', n.name, pkgs], 'deploy services'),
      idempotent: true,
      timeoutMs: 30 * MIN,
    });
    if (n.temporaryAddress) {
      const line = `mgmt_ip: ${n.address}`;
      add({
        id: `restoreAddress-${n.name}`,
        description: `R5.1 give ${n.name} its own address ${n.address} back in settings/${n.name} (the temporary ${n.temporaryAddress} was lent)`,
        host: fb,
        command: sh('restore address')`sed -i ${`s/^mgmt_ip: .*$/${line}/`} ${file}`,
        check: shell(['grep', '-qxF', line, file], 'address restored?'),
        timeoutMs: MIN,
      });
    }
    const removeKeys = (k: string) =>
      sh('remove stale host key')`{ ssh-keygen -f /root/.ssh/known_hosts -R ${k} >/dev/null 2>&1 || true; }`;
    add({
      id: `removeStaleHostKeys-${n.name}`,
      description: `R5.7 remove ${n.name}'s stale host keys (ssh-keygen -R ${n.name} and ${n.address}) on firstbox and all nodes`,
      host: fb,
      command: sh('remove stale host keys')`${removeKeys(n.name)}; ${removeKeys(n.address)}; ${execNodes(
        'all',
        sh('remove stale host keys')`${removeKeys(n.name)}; ${removeKeys(n.address)}`,
        'remove stale host keys on all nodes',
        true,
      )} || echo 'warning: some nodes did not answer exec_nodes.sh'`,
      idempotent: true,
      timeoutMs: 10 * MIN,
    });
    const repin = `repinHostKey-${n.name}`;
    add({
      id: repin,
      description: `R5.7 read ${n.name}'s new host key through the trusted firstbox (ssh-keyscan) and re-pin exactly that node`,
      host: fb,
      command: shell(
        ['ssh-keyscan', '-T', '5', '-t', 'ed25519', '-p', '22', n.address],
        'fetch new host key',
      ),
      verify: (out) =>
        parseKnownHosts(out).length > 0 ? undefined : `ssh-keyscan returned no host key for ${n.address}`,
      idempotent: true,
      timeoutMs: 2 * MIN,
    });
    repinSteps[repin] = { node: n.name, address: n.address };
    add({
      id: `verifyServices-${n.name}`,
      description: `R5.8 supervisorctl status on ${n.name} (over SSH with its re-pinned key): every program RUNNING`,
      host: node,
      command: shell(['supervisorctl', 'status'], 'check services'),
      acceptExitCodes: [0, 3],
      verify: (out) => verifySupervisor(out, n.name),
      idempotent: true,
      timeoutMs: 2 * MIN,
    });
    add({
      id: `healthGate-${n.name}`,
      description: `R5.8 health gate for ${n.name}: services, ${zone.global ? 'console, ' : ''}API through ${floatingIp ? `the VIP ${floatingIp}` : 'the node'}${spec.healthChecks?.length ? `, ${spec.healthChecks.map((c) => c.name).join(', ')}` : ''}; healthy for ${spec.minReadySeconds}s`,
      host: fb,
      command: healthGate(n, zone, floatingIp, spec),
      idempotent: true,
      timeoutMs: spec.minReadySeconds * 1000 + 10 * MIN,
    });
    nodeSteps[n.name] = ids;
  }
  return {
    violations,
    order: planned,
    plan: makePlan(steps),
    prepSteps,
    nodeSteps,
    repinSteps,
    ...(floatingIp ? { floatingIp } : {}),
  };
}

/** awk program over exec_nodes.sh output: every program line RUNNING, at least one. */
const ALL_RUNNING_AWK =
  '/^====|^exec_nodes:/{next} NF>=2{n++; if($2!="RUNNING"){print; b=1}} END{if(n==0)print "no supervisor programs"; exit (b||n==0)}';

/** The checks of the health gate, each a named firstbox command. */
export function healthChecks(
  n: Pick<PlannedNode, 'name' | 'address'>,
  zone: UpgradeZoneView,
  floatingIp: string | undefined,
  spec: WebserviceUpgradeSpec,
): { name: string; command: ShellCommand }[] {
  const curl = (url: string) => shell(['curl', '-fsS', '-m', '5', '-o', '/dev/null', url], `GET ${url}`);
  const checks: { name: string; command: ShellCommand }[] = [
    {
      name: 'supervisor',
      command: sh(
        'services running',
      )`${execNodes(n.name, shell(['supervisorctl', 'status'], 'status'), 'supervisor status')} | awk ${ALL_RUNNING_AWK}`,
    },
  ];
  if (zone.global) checks.push({ name: 'console', command: curl(`http://${n.address}/`) });
  else checks.push({ name: 'api-node', command: curl(`http://${n.address}:7777/`) });
  checks.push({
    name: floatingIp ? 'api-vip' : 'api',
    command: curl(`http://${floatingIp ?? n.address}:7777/`),
  });
  for (const c of spec.healthChecks ?? []) {
    const cmd = c.command
      ? shell(validated('SAFE_COMMAND', c.command, `spec.healthChecks[${c.name}].command`).split(' '), c.name)
      : curl(validated('HTTP_URL', c.http!.url, `spec.healthChecks[${c.name}].http.url`));
    checks.push({ name: c.name, command: cmd });
  }
  return checks;
}

function healthGate(
  n: PlannedNode,
  zone: UpgradeZoneView,
  floatingIp: string | undefined,
  spec: WebserviceUpgradeSpec,
): ShellCommand {
  const checks = healthChecks(n, zone, floatingIp, spec);
  const interval = String(Math.max(1, Math.min(5, spec.minReadySeconds)));
  const body = seq(
    checks.map(
      (c) =>
        sh(
          `check ${c.name}`,
        )`if ! out=$(${c.command} 2>&1); then printf 'health check %s failed on %s (%s): %s\\n' ${c.name} ${n.name} ${n.address} "$(printf '%s' "$out" | tail -n 3 | tr '\\n' ' ')"; exit 1; fi`,
    ),
    'health checks',
  );
  return sh(
    `health gate for ${n.name}`,
  )`end=$(( $(date +%s) + ${String(spec.minReadySeconds)} )); round=0; while :; do round=$((round+1)); ${body}; if [ "$(date +%s)" -ge "$end" ]; then break; fi; sleep ${interval}; done; echo ${`${n.name} healthy for ${spec.minReadySeconds}s:`} ${checks.map((c) => c.name).join(',')} "($round rounds)"`;
}

export type { ShellCommand };
