/**
 * Runbook R5 steps 1–7 for one node: write its settings for the rebuild (R5.1), refresh the node
 * list and packages (R5.2), stop it and keep its old image (R5.3), launch and install it afresh with
 * nginx (R5.4) and keepalived (R5.5), deploy the webservice packages (R5.6), give its address back
 * and re-pin its new host key through the firstbox (R5.7). The checks after it are the health gate.
 */
import type { WebserviceUpgradeSpec } from '../../api/webserviceupgrade.js';
import type { Step } from '../../runbook/step.js';
import { and, sh, shell, validated } from '../../ssh/command.js';
import { parseKnownHosts } from '../../ssh/hostkeys.js';
import { verifySupervisor } from './checks.js';
import { acceptRebuiltHostKey } from './hostkeys.js';
import {
  execNodes,
  installerTools,
  KEEPALIVED,
  NGINX_CONF,
  type NodeSettings,
  PACKAGES,
  settingsPath,
  sshPortOpen,
  type UpgradeZoneView,
  VM_DIR,
} from './installer.js';
import type { PlannedNode } from './order.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

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

/** The steps that rebuild node `n`, in order, and the id of the one whose output re-pins its key. */
export function rebuildSteps(
  n: PlannedNode,
  input: {
    /** The validated metadata.name of the upgrade. */
    upgrade: string;
    spec: WebserviceUpgradeSpec;
    zone: UpgradeZoneView;
    /** The node's settings before this upgrade touched them. */
    settings: NodeSettings;
    floatingIp?: string | undefined;
  },
): { steps: Step[]; repinStep: string } {
  const { upgrade, spec, zone, floatingIp } = input;
  const fb = { kind: 'firstbox' } as const;
  const tools = installerTools(zone.installerVersion);
  const steps: Step[] = [];
  const s = input.settings;
  const file = settingsPath(n.name);
  const bridge = validated('DEVICE', s.bridge ?? 'br0', `bridge of ${n.name}`);
  const osName = spec.target.osName;
  const osVersion = spec.target.osVersion;
  const node = { kind: 'node', address: n.address, port: 22 } as const;

  steps.push({
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
  steps.push({
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
  steps.push({
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
  steps.push({
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
  steps.push({
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
  steps.push({
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
  steps.push({
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
  steps.push({
    id: `installNode-${n.name}`,
    description: `R5.4 install the base system on ${n.name} (install_nodes.sh)`,
    host: fb,
    command: shell(['/pitrix/install/install_nodes.sh', n.name], 'install node'),
    idempotent: true,
    timeoutMs: HOUR,
  });
  steps.push({
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
    steps.push({
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
            ['rsync', '-azPS', `${KEEPALIVED}/rc.local.keepalived.webservice`, `${n.name}:/etc/keepalived/`],
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
  steps.push({
    id: `deployServices-${n.name}`,
    description: `R5.6 deploy the ${zone.global ? 'global' : 'sub'} zone webservice packages on ${n.name} (update.sh ${pkgs})`,
    host: fb,
    command: shell(['/pitrix/upgrade/update.sh', n.name, pkgs], 'deploy services'),
    idempotent: true,
    timeoutMs: 30 * MIN,
  });
  if (n.temporaryAddress) {
    const line = `mgmt_ip: ${n.address}`;
    steps.push({
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
  steps.push({
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
  steps.push({
    id: repin,
    description: `R5.7 read ${n.name}'s new host key through the trusted firstbox (ssh-keyscan) and pin exactly that node in the firstbox's known_hosts`,
    host: fb,
    command: acceptRebuiltHostKey(n.address),
    verify: (out) =>
      parseKnownHosts(out).length > 0 ? undefined : `ssh-keyscan returned no host key for ${n.address}`,
    idempotent: true,
    timeoutMs: 2 * MIN,
  });
  return { steps, repinStep: repin };
}
