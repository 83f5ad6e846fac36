/**
 * Runbook R5 steps 1–7 for one node: write its settings for the rebuild (R5.1), refresh the node
 * list and packages (R5.2), stop it and keep its old image (R5.3), launch and install it afresh with
 * nginx (R5.4) and keepalived (R5.5), deploy the webservice packages (R5.6), give its address back
 * and re-pin its new host key through the firstbox (R5.7). The checks after it are the health gate.
 */
import type { WebserviceUpgradeSpec } from '../../api/webserviceupgrade.js';
import { guardedStep } from '../../runbook/jobguard.js';
import { forNode, type Step } from '../../runbook/step.js';
import { and, seq, sh, shell, validated } from '../../ssh/command.js';
import { parseKnownHosts } from '../../ssh/hostkeys.js';
import type { ShellCommand } from '../../ssh/types.js';
import { type LentAddress, verifyAddressRestoredStep } from './address.js';
import { verifySupervisor, verifyVmDefined } from './checks.js';
import { acceptRebuiltHostKey } from './hostkeys.js';
import {
  execNodes,
  GEN_MAC,
  installerTools,
  KEEPALIVED,
  KERNELS_DIR,
  NGINX_CONF,
  type NodeSettings,
  PACKAGES,
  settingsPath,
  sshPortOpen,
  type UpgradeZoneView,
} from './installer.js';
import type { PlannedNode } from './order.js';
import { editSettingsText, settingsLine } from './settingsfile.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

function majorMinor(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/**
 * settings/N for the rebuild: the node's own file (the dated backup) with only the keys R5 changes
 * (seed 004 lines 73–75 and the example's os_name/os_version, lines 102–103). The MAC is `@MAC@`
 * here and becomes gen_mac.py's output on the firstbox. The lines returned are what the file must
 * contain afterwards (the step's check).
 */
export function renderNodeSettings(
  name: string,
  s: NodeSettings,
  next: { mgmtIp: string; physicalHost: string; osName: string; osVersion: string },
): { text: string; lines: string[] } {
  const changes = {
    mgmt_network_address: next.mgmtIp,
    mgmt_network_mac_address: '@MAC@',
    physical_host: next.physicalHost,
    os_name: next.osName,
    os_version: next.osVersion,
  };
  const r = editSettingsText(s.text, changes);
  if ('error' in r) throw new Error(`/pitrix/conf/settings/${name}: ${r.error}`);
  return {
    text: r.text,
    lines: (['mgmt_network_address', 'physical_host', 'os_name', 'os_version'] as const).map((k) =>
      settingsLine(k, changes[k]),
    ),
  };
}

/**
 * R5 step 7 (seed 004 lines 200–203): remove the node's stale host keys by name and address on
 * firstbox and, through `exec_nodes.sh -f all`, on every node. Also used after a rollback.
 */
export function removeStaleHostKeys(name: string, addresses: readonly string[]): ShellCommand {
  const one = (k: string) =>
    sh('remove stale host key')`{ ssh-keygen -f /root/.ssh/known_hosts -R ${k} >/dev/null 2>&1 || true; }`;
  const local = seq([name, ...addresses].map(one), 'remove stale host keys');
  return sh('remove stale host keys')`${local}; ${execNodes(
    'all',
    local,
    'remove stale host keys on all nodes',
    true,
  )} || echo 'warning: some nodes did not answer exec_nodes.sh'`;
}

/** The steps that rebuild node `n`, in order, and the id of the one whose output re-pins its key. */
export function rebuildSteps(
  n: PlannedNode,
  input: {
    spec: WebserviceUpgradeSpec;
    zone: UpgradeZoneView;
    /** The node's settings before this upgrade touched them. */
    settings: NodeSettings;
    floatingIp?: string | undefined;
    /** The dated backup of /pitrix/conf/settings (the node's own file is read from it). */
    settingsBackup: string;
    /**
     * Which rollout this is (the upgrade's name and start time): part of every guarded job's
     * identity, so a later rollout that would launch the same node from the same settings is a new
     * job, never "already done" by an earlier one's record.
     */
    rollout: string;
  },
): { steps: Step[]; repinStep: string; addressCheck?: { step: string; lent: LentAddress } } {
  const { spec, zone, floatingIp } = input;
  const fb = { kind: 'firstbox' } as const;
  const tools = installerTools(zone.installerVersion);
  const steps: Step[] = [];
  const s = input.settings;
  const file = settingsPath(n.name);
  const bridge = validated('DEVICE', s.bridge ?? '', `physical_host_network_interface of ${n.name}`);
  const settingsBackup = input.settingsBackup;
  const osName = spec.target.osName;
  const osVersion = spec.target.osVersion;
  const node = { kind: 'node', address: n.address, port: 22 } as const;
  // The long jobs of a rebuild run under the job guard, serialised per zone; each reads the node's
  // settings file as writeNodeSettings left it (rendered here, the MAC aside) and this rollout.
  const guard = (inputs: string[]) => ({ lockScope: zone.zoneId, inputs: [input.rollout, ...inputs] });

  steps.push({
    ...forNode('preflight', n.name),
    description: `R5 before ${n.name}: it answers over SSH with its pinned host key and every supervisor program is RUNNING`,
    host: node,
    command: shell(['supervisorctl', 'status'], 'check services before the rebuild'),
    acceptExitCodes: [0, 3],
    verify: (out) => verifySupervisor(out, n.name),
    idempotent: true,
    timeoutMs: 2 * MIN,
  });
  const rendered = renderNodeSettings(n.name, s, {
    mgmtIp: n.temporaryAddress ?? n.address,
    physicalHost: n.newPhysicalHost,
    osName,
    osVersion,
  });
  const backup = `${settingsBackup}/${n.name}`;
  const written = and(
    rendered.lines.map((l) => shell(['grep', '-qxF', l, file], 'settings line written?')),
    'settings of this rebuild written?',
  );
  // gen_mac.py prints one MAC (ASSUMPTION, platform-interface.md); anything else stops the step.
  const write = sh(
    'write node settings',
  )`mac=$(${GEN_MAC}) && printf '%s\\n' "$mac" | grep -qxE '([0-9a-f]{2}:){5}[0-9a-f]{2}' || { echo ${`${GEN_MAC} printed no MAC address:`} "$mac" >&2; exit 1; }; printf '%s' ${rendered.text} | sed "s/@MAC@/$mac/" > ${`${file}.tmp`} && mv ${`${file}.tmp`} ${file}`;
  steps.push({
    ...forNode('writeNodeSettings', n.name),
    description:
      `R5.1 write settings/${n.name} from its own file (${backup}), changing only mgmt_network_address (${n.temporaryAddress ? `temporary ${n.temporaryAddress}, verified unused` : `kept ${n.address}`}), ` +
      `mgmt_network_mac_address (${GEN_MAC}), physical_host ${n.physicalHost} → ${n.newPhysicalHost}, os_name ${osName}, os_version ${osVersion}`,
    host: fb,
    command: n.temporaryAddress
      ? sh(
          'write node settings',
        )`if ${sshPortOpen(n.temporaryAddress)}; then echo ${`temporary address ${n.temporaryAddress} answers on port 22: it is in use; pick another in spec.temporaryAddresses`} >&2; exit 1; fi; ${write}`
      : write,
    check: written,
    timeoutMs: 2 * MIN,
  });
  steps.push({
    ...forNode('checkBridge', n.name),
    description: `R5.1 bridge ${bridge} (physical_host_network_interface) exists on ${n.newPhysicalHost}`,
    host: fb,
    command: execNodes(
      n.newPhysicalHost,
      shell(['ip', '-o', 'link', 'show', bridge], 'show bridge'),
      'check bridge',
    ),
    verify: (out) =>
      new RegExp(`: ${bridge}[:@]`).test(out)
        ? undefined
        : `bridge ${bridge} not found on ${n.newPhysicalHost}; set physical_host_network_interface in /pitrix/conf/settings/${n.name} to its bridge (seed 004 line 76: usually br0 or br1)`,
    idempotent: true,
    timeoutMs: 2 * MIN,
  });
  // A long package build: under the guard, so a dropped connection never starts a second build
  // beside the first. No status check names "built": without the guard's record it was not run.
  steps.push(
    guardedStep(
      {
        ...forNode('genNodeList', n.name),
        description: `R5.2 refresh the node list and build packages (${tools.genNodeList.split('/').pop()}, ${tools.buildAllinone.split('/').pop()}), under the job guard`,
        host: fb,
        command: and(
          [shell([tools.genNodeList], 'generate node list'), shell([tools.buildAllinone], 'build packages')],
          'node list and package build',
        ),
        timeoutMs: HOUR,
      },
      guard([rendered.text]),
    ),
  );
  const k = KERNELS_DIR;
  const inKernels = (f: string) => `${k}/${f}`;
  // Before the node goes down: its image is where R5 moves it from (seed 004 lines 138–142), or
  // the rebuild would leave nothing to roll back to. Read-only.
  steps.push({
    ...forNode('checkImage', n.name),
    description: `R5.3 before the shutdown, on ${n.physicalHost}: virsh list --all shows ${n.name}, ${k}/ holds ${n.name}.img and ${n.name}.xml`,
    host: fb,
    command: execNodes(
      n.physicalHost,
      sh('list vms and images')`virsh list --all && echo @@kernels@@ && ls -1 ${k}/`,
      'list vms and images',
    ),
    verify: (out) => verifyVmDefined(out, n.name, n.physicalHost),
    idempotent: true,
    timeoutMs: 2 * MIN,
  });
  const down = sshPortOpen(n.address);
  steps.push({
    ...forNode('stopServices', n.name),
    description: `R5.3 on ${n.name}: supervisorctl stop all, shutdown -h now; wait until it is off`,
    host: fb,
    command: sh(
      'stop services and shut down',
    )`if ${down}; then ${execNodes(n.name, sh('stop and power off')`supervisorctl stop all; shutdown -h now`, 'stop and power off')} || true; fi; i=0; while ${down}; do i=$((i+1)); if [ "$i" -ge 120 ]; then echo ${`${n.name} (${n.address}) still answers on port 22 after shutdown`} >&2; exit 1; fi; sleep 1; done; echo ${`${n.name} is off`}`,
    check: sh('node already off?')`! ${down}`,
    destructive: true,
    timeoutMs: 5 * MIN,
  });
  // seed 004 lines 138–142, verbatim but for the node's name; the domain must be shut off first
  // (the original only lists it: what to look for is ours, platform-interface.md).
  steps.push({
    ...forNode('keepOldImage', n.name),
    description: `R5.3 on ${n.physicalHost}: virsh list --all shows ${n.name} shut off; cd ${k}/; rm -f ${n.name}.Done; mv ${n.name}.img old-${n.name}.img; mv ${n.name}.xml old-${n.name}.xml`,
    host: fb,
    command: execNodes(
      n.physicalHost,
      sh(
        'keep old image',
      )`state=$(virsh list --all | awk -v d=${n.name} '$2 == d { $1 = ""; $2 = ""; sub(/^ +/, ""); print }') && if [ "$state" != 'shut off' ]; then echo ${`${n.name} on ${n.physicalHost} is not shut off, its image is not moved; virsh list --all says:`} "$state" >&2; exit 1; fi && cd ${k}/ && rm -f ${`${n.name}.Done`} && mv ${`${n.name}.img`} ${`old-${n.name}.img`} && mv ${`${n.name}.xml`} ${`old-${n.name}.xml`}`,
      'keep old image',
    ),
    check: execNodes(
      n.physicalHost,
      sh(
        'old image kept?',
      )`test ! -e ${inKernels(`${n.name}.img`)} && test -e ${inKernels(`old-${n.name}.img`)} && test -e ${inKernels(`old-${n.name}.xml`)}`,
      'old image kept?',
    ),
    timeoutMs: 10 * MIN,
  });
  steps.push(
    guardedStep(
      {
        ...forNode('launchVm', n.name),
        description: `R5.4 launch ${n.name} afresh on ${n.newPhysicalHost} (launch_vms.sh -f), under the job guard`,
        host: fb,
        command: shell(['/pitrix/install/launch_vms.sh', '-f', n.name], 'launch vm'),
        // When the guard has no record of this job: 0 when the settings are this rebuild's and the
        // VM answers with the target OS, 1 when either is not so (grep); 2 only when the settings
        // file cannot be read (unknown: the plan stops).
        check: and(
          [
            written,
            sh(
              'vm up on the target os?',
            )`${execNodes(n.name, shell(['lsb_release', '-rs'], 'os release'), 'os release')} | grep -qx ${majorMinor(osVersion)}`,
          ],
          'vm already launched?',
        ),
        timeoutMs: 30 * MIN,
      },
      guard([rendered.text]),
    ),
  );
  // No status check of its own (the runbooks name none): without the guard's record it was not
  // run for this rollout, and the guard refuses a second start while one runs.
  steps.push(
    guardedStep(
      {
        ...forNode('installNode', n.name),
        description: `R5.4 install the base system on ${n.name} (install_nodes.sh), under the job guard`,
        host: fb,
        command: shell(['/pitrix/install/install_nodes.sh', n.name], 'install node'),
        timeoutMs: HOUR,
      },
      guard([rendered.text]),
    ),
  );
  steps.push({
    ...forNode('nginxConfig', n.name),
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
      ...forNode('keepalived', n.name),
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
  steps.push(
    guardedStep(
      {
        ...forNode('deployServices', n.name),
        description: `R5.6 deploy the ${zone.global ? 'global' : 'sub'} zone webservice packages on ${n.name} (update.sh ${pkgs}), under the job guard`,
        host: fb,
        command: shell(['/pitrix/upgrade/update.sh', n.name, pkgs], 'deploy services'),
        timeoutMs: 30 * MIN,
      },
      guard([rendered.text]),
    ),
  );
  if (n.temporaryAddress) {
    const line = settingsLine('mgmt_network_address', n.address);
    steps.push({
      ...forNode('restoreAddress', n.name),
      description: `R5.1 give ${n.name} its own address ${n.address} back in settings/${n.name} (the temporary ${n.temporaryAddress} was lent; seed 004 line 73)`,
      host: fb,
      command: sh('restore address')`sed -i ${`s/^mgmt_network_address=.*$/${line}/`} ${file}`,
      check: shell(['grep', '-qxF', line, file], 'address restored?'),
      timeoutMs: MIN,
    });
  }
  let addressCheck: { step: string; lent: LentAddress } | undefined;
  if (n.temporaryAddress) {
    const lent = { node: n.name, own: n.address, temporary: n.temporaryAddress };
    const step = verifyAddressRestoredStep(lent, 2 * MIN);
    steps.push(step);
    addressCheck = { step: step.id, lent };
  }
  const stale = [n.address, ...(n.temporaryAddress ? [n.temporaryAddress] : [])];
  steps.push({
    ...forNode('removeStaleHostKeys', n.name),
    description: `R5.7 remove ${n.name}'s stale host keys (ssh-keygen -R ${n.name}, ${stale.join(', ')}) on firstbox and all nodes`,
    host: fb,
    command: removeStaleHostKeys(n.name, stale),
    idempotent: true,
    timeoutMs: 10 * MIN,
  });
  const repin = forNode('repinHostKey', n.name);
  steps.push({
    ...repin,
    description: `R5.7 read ${n.name}'s new host key through the trusted firstbox (ssh-keyscan) and pin exactly that node in the firstbox's known_hosts`,
    host: fb,
    command: acceptRebuiltHostKey(n.address),
    verify: (out) =>
      parseKnownHosts(out).length > 0 ? undefined : `ssh-keyscan returned no host key for ${n.address}`,
    idempotent: true,
    timeoutMs: 2 * MIN,
  });
  return { steps, repinStep: repin.id, ...(addressCheck ? { addressCheck } : {}) };
}
