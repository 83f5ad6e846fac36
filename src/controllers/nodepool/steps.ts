/**
 * The ordered steps of an R4 scale-out (seed 003 §2), for the addresses planNodePool decided to
 * deploy: node list, add-nodes.py and the view of the new nodes, key access, disk wipe, collection
 * and corrections, the hardware check, the scale settings copied from their template and filled in,
 * config-qingcloud.py, scale-qingcloud.py, the hyper mirror, the services check on every vg and
 * hyper node, the BOSS cache and the VBC return routes. Pure: the golden-plan tests run it.
 */
import { HOUR, MIN } from '../../runbook/durations.js';
import { guardedStep } from '../../runbook/jobguard.js';
import { forSubject, type Step } from '../../runbook/step.js';
import { sh, shell, validated } from '../../ssh/command.js';
import { onFirstBoss } from '../component/observe.js';
import { listNewNodesStep, writeNodeListStep } from '../nodelist.js';
import { copyAndFillSteps, SETTINGS_TEMPLATE } from '../templatefill.js';
import { checks } from './checks.js';
import { listFilePath, scaleSettingsPath } from './paths.js';
import type { NodePoolPlanInput } from './plan.js';

export function scaleOutSteps(
  input: NodePoolPlanInput,
  zoneId: string,
  pool: string,
  ips: string[],
  settingsText: string,
): Step[] {
  const { spec, zone } = input;
  const list = listFilePath(zoneId, pool);
  const settings = scaleSettingsPath(zoneId);
  const fb = { kind: 'firstbox' } as const;
  const steps: Step[] = [];
  const listText = `${ips.join('\n')}\n`;
  steps.push(writeNodeListStep(list, ips, `R4.1 write the ${ips.length} new address(es) to ${list}`));
  steps.push({
    id: 'addNodes',
    description: 'R4.1 add the nodes to the installer (add-nodes.py), then they show as new',
    host: fb,
    command: shell(['/pitrix/cli/add-nodes.py', '-I', list, '-z', zoneId], 'add nodes'),
    check: checks.nodesInStatus(ips, ['new', 'collected', 'available', 'deployed'], 'nodes already added?'),
    timeoutMs: 10 * MIN,
  });
  // 003 §2.1 "View the newly added nodes: describe-nodes.py -s new".
  steps.push(
    listNewNodesStep(
      ips,
      input.platformNodes,
      'R4.1 view the newly added nodes (describe-nodes.py -s new): each is listed as new',
    ),
  );
  if (spec.nodeCredentialsSecretRef) {
    steps.push({
      id: 'establishSsh',
      description: 'R4.2 set up key access on nodes with non-default credentials (establish_ssh.sh)',
      host: fb,
      // The user and password arrive on stdin, never in the command text, status or plan hash.
      command: sh(
        'establish ssh key access',
      )`IFS= read -r PITRIX_USER && IFS= read -r PITRIX_PASSWD && /pitrix/node/collect/establish_ssh.sh ${list} ${String(spec.sshPort)} "$PITRIX_USER" "$PITRIX_PASSWD"`,
      check: checks.nodesInStatus(ips, ['collected', 'available', 'deployed'], 'nodes already collected?'),
      stdinSecret: { secretName: spec.nodeCredentialsSecretRef.name, key: 'username,password' },
      timeoutMs: 10 * MIN,
    });
  }
  if (spec.eraseDataDisks) {
    const devices = spec.eraseDataDisks.devices.map((d, i) =>
      validated('DEVICE', d, `spec.eraseDataDisks.devices[${i}]`),
    );
    steps.push(
      guardedStep(
        {
          id: 'eraseDataDisks',
          description: `R4.3 wipe data disks ${devices.join(',')} on the new nodes (erase_data_disks.sh), confirmed by spec.eraseDataDisks.confirm`,
          host: fb,
          command: shell(
            ['/pitrix/bin/erase_data_disks.sh', '-i', list, '-d', devices.join(',')],
            'erase data disks',
          ),
          // Never wipe again once collection has used the disks.
          check: checks.nodesInStatus(
            ips,
            ['collected', 'available', 'deployed'],
            'nodes already collected?',
          ),
          destructive: true,
          timeoutMs: HOUR,
        },
        { lockScope: zoneId, inputs: [listText] },
      ),
    );
  }
  steps.push(
    guardedStep(
      {
        id: 'collectNodes',
        description:
          'R4.3 collect hardware facts of the new nodes (collect-nodes.py); never re-run after deployment',
        host: fb,
        command: shell(['/pitrix/cli/collect-nodes.py', '-I', list], 'collect nodes'),
        check: checks.nodesInStatus(ips, ['collected', 'available', 'deployed'], 'nodes already collected?'),
        timeoutMs: HOUR,
      },
      { lockScope: zoneId, inputs: [listText] },
    ),
  );
  for (const node of spec.nodes.filter((n) => ips.includes(n.address))) {
    for (const o of node.diskOverrides ?? []) {
      const dev = validated('DEVICE', o.device, `spec.nodes[${node.address}].diskOverrides.device`);
      const argv = ['/pitrix/cli/modify-node-attributes.py', '-i', node.address, '-d', dev];
      if (o.type) argv.push('-t', o.type);
      if (o.sizeGiB) argv.push('-S', String(o.sizeGiB));
      if (o.enabled !== undefined) argv.push('-s', o.enabled ? '1' : '0');
      if (argv.length === 5) continue;
      steps.push({
        ...forSubject('modifyNodeAttributes', `${node.address}-${dev}`),
        description: `R4.3 correct collected facts of ${node.address} ${dev} (${argv.slice(5).join(' ')})`,
        host: fb,
        command: shell(argv, 'correct node attributes'),
        check: checks.nodesInStatus([node.address], ['deployed'], 'node already deployed?'),
        timeoutMs: 5 * MIN,
      });
    }
  }
  steps.push({
    id: 'verifyNodes',
    description: 'R4.4 verify the collected facts (describe-nodes.py -s available)',
    host: fb,
    command: shell(
      ['/pitrix/cli/describe-nodes.py', '-s', 'available', '-f', 'json'],
      'describe available nodes',
    ),
    verify: (stdout) => checks.verifyAvailable(stdout, ips, spec),
    timeoutMs: 5 * MIN,
    readOnly: true,
  });
  steps.push(
    ...copyAndFillSteps({
      name: 'ScaleSettings',
      R: 'R4.5',
      template: SETTINGS_TEMPLATE,
      templateText: input.files![SETTINGS_TEMPLATE]!.text!,
      target: settings,
      filled: settingsText,
      journal: input.journal,
      keys: [
        'zone_id',
        `nodes.${spec.role}`,
        ...(spec.role === 'vg' ? ['eips'] : []),
        ...(spec.vbc ? ['vbc'] : []),
      ],
    }),
  );
  // The job ids carry the files these jobs read: a later scale-out with other nodes or settings
  // is other work, never "already done".
  steps.push(
    guardedStep(
      {
        id: 'configQingcloud',
        description: 'R4.6 configure the platform with the scale settings (config-qingcloud.py -s)',
        host: fb,
        command: shell(['/pitrix/cli/config-qingcloud.py', '-s', settings], 'configure platform'),
        check: checks.nodesInStatus(ips, ['deployed'], 'nodes already deployed?'),
        timeoutMs: HOUR,
      },
      { lockScope: zoneId, inputs: [settingsText, listText] },
    ),
  );
  steps.push(
    guardedStep(
      {
        id: 'scaleQingcloud',
        description: `R4.7 deploy the new nodes (scale-qingcloud.py -z ${zoneId})`,
        host: fb,
        command: shell(['/pitrix/cli/scale-qingcloud.py', '-z', zoneId, '-I', list], 'scale out the zone'),
        check: checks.nodesInStatus(ips, ['deployed'], 'nodes deployed?'),
        timeoutMs: 4 * HOUR,
      },
      { lockScope: zoneId, inputs: [settingsText, listText] },
    ),
  );
  if (spec.role === 'hyper' && zone.mode !== 'standard') {
    // No status check names "mirror refreshed": without a job directory it is not done.
    steps.push(
      guardedStep(
        {
          id: 'updateHyperMirror',
          description: `R4.8 refresh the hyper mirror (${zone.mode} mode; restarts compute_server on updated nodes)`,
          host: fb,
          command: shell(['/pitrix/bin/update_hyper_mirror.sh', '-n', 'hyper'], 'update hyper mirror'),
          timeoutMs: HOUR,
        },
        { lockScope: zoneId, inputs: [listText] },
      ),
    );
  }
  // 003 §2.3 "Check the QingCloud services of the scaled-out nodes": verbatim, both roles, every
  // node of the role (no -f). A role the zone has no node of is skipped (exec_nodes.sh would only
  // answer "no node matches"). Nodes of other zones the firstbox serves are not judged.
  for (const role of ['vg', 'hyper'] as const) {
    const judged = [
      ...new Set([
        ...input.platformNodes
          .filter((p) => p.zoneId === zoneId && p.status === 'deployed' && p.roles.includes(role))
          .map((p) => p.mgmtIp),
        ...(spec.role === role ? ips : []),
      ]),
    ];
    if (judged.length === 0) continue;
    steps.push({
      ...forSubject('checkServices', role),
      description: `R4.9 every supervisor program RUNNING on the zone's ${judged.length} ${role} node(s), old and new (exec_nodes.sh ${role} "supervisorctl status")`,
      host: fb,
      command: shell(['/pitrix/upgrade/exec_nodes.sh', role, 'supervisorctl status'], 'check services'),
      verify: (stdout) => checks.verifyServices(stdout, judged, role),
      // exec_nodes.sh exits non-zero when a node's supervisorctl does (a program not RUNNING):
      // verify judges every node's own output.
      acceptExitCodes: [0, 1, 3],
      timeoutMs: 10 * MIN,
      readOnly: true,
    });
  }
  // "If BOSS V2 is deployed" (003 §2.3, 002 "Scaling out the environment"): from what the firstbox
  // lists (a deployed boss node, in this zone or another of the region), not from a resource here.
  if (input.platformNodes.some((n) => n.status === 'deployed' && n.roles.includes('boss'))) {
    steps.push({
      id: 'rebuildBossCache',
      description:
        'R4.10 rebuild the BOSS V2 cache after the scale-out (django_manage.sh rebuild_cache on the first boss node of /pitrix/conf/nodes/boss)',
      host: fb,
      command: onFirstBoss('rebuild_cache'),
      timeoutMs: 30 * MIN,
      idempotent: true,
    });
  }
  if (spec.role === 'hyper') {
    steps.push({
      id: 'dumpVbcRoutes',
      description: 'R4.11 list the VBC return routes the network team must add on the management gateway',
      host: fb,
      command: shell(['/pitrix/bin/dump_vbc_route.sh', 'hyper'], 'dump vbc routes'),
      timeoutMs: 5 * MIN,
      readOnly: true,
      capture: vbcRoutes,
    });
  }
  return steps;
}

/** R4.11: `ip route add CIDR via MGMT_IP  # NODE_ID`, every line of the whole output. */
export function vbcRoutes(stdout: string): Array<{ destination: string; gateway: string }> {
  const routes: Array<{ destination: string; gateway: string }> = [];
  for (const line of stdout.split('\n')) {
    const m = /(\d+\.\d+\.\d+\.\d+\/\d+)\s+via\s+(\d+\.\d+\.\d+\.\d+)/.exec(line);
    if (m) routes.push({ destination: m[1]!, gateway: m[2]! });
  }
  return routes;
}
