/**
 * Runbook R3 steps 2-4: deploy BOSS V2 or cronus through deploy-qingcloud-component.py (one
 * component per installer job), and the optional websupervisor install; each ends with a check that
 * what was deployed runs.
 */
import type { Step } from '../../runbook/step.js';
import { pipe, sh, shell } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { parseExecNodes } from '../execnodes.js';
import {
  deployLogPath,
  jobFilePath,
  onFirstBoss,
  parseBossVersions,
  VM_TEMPLATE,
  vmVariablesPath,
} from './observe.js';
import type { ComponentPlanInput, Flavor } from './plan.js';
import { execNodes, fb, HOUR, MIN, PlanError, writeFileStep } from './steps-common.js';
import { applySettings } from './yamledit.js';

/** The job id from the first line a job prints: `[HH:MM:SS] job JOB_ID`. */
const JOB_LINE_SED = String.raw`s/^\[[0-9:]*\] job \([^ ]*\)$/\1/p`;

// A constant program: exit 0 when the job status on stdin is one of argv, 3 when running, else 1.
const JOB_STATE_PY = [
  'import json, sys',
  'try:',
  '    s = json.loads(sys.stdin.read().strip().splitlines()[-1]).get("status")',
  'except Exception:',
  '    sys.exit(1)',
  'sys.exit(0 if s in sys.argv[1:] else 3 if s == "running" else 1)',
].join('\n');

function jobState(jobFile: string, doneStates: string[], purpose: string): ShellCommand {
  return sh(purpose)`[ -s ${jobFile} ] || exit 1; ${pipe([
    sh('job status')`/pitrix/cli/get-deploy-qingcloud-component-status.py -j "$(cat ${jobFile})"`,
    shell(['python3', '-c', JOB_STATE_PY, ...doneStates], 'judge job status'),
  ])}`;
}

export function deploySteps(
  input: ComponentPlanInput,
  zoneId: string,
  flavor: Flavor,
  roleNodeIds: string[],
): Step[] {
  const { spec, facts, zone } = input;
  const name = spec.name;
  const template = facts.files[VM_TEMPLATE];
  if (template === undefined)
    throw new PlanError(
      'VmVariablesTemplateMissing',
      `${VM_TEMPLATE} is missing on firstbox (R3.2); restore it`,
    );
  const flags = ['deploy_boss', 'deploy_cronus', 'deploy_websupervisor'];
  const vars = applySettings(
    template,
    [
      { path: ['zone_id'], value: zoneId },
      ...flags.map((f) => ({ path: [f], value: f === `deploy_${name}` ? 1 : 0 })),
    ],
    VM_TEMPLATE,
  );
  if (zone.mode === 'fusion' && /^(floating_ip|mgmt_network_address):\s*\S/m.test(vars))
    throw new PlanError(
      'FusionForbidsManagementNetwork',
      `fusion mode: floating_ip and mgmt_network_address cannot be set (R3.2), but ${VM_TEMPLATE} sets them; comment them out`,
    );
  const varsPath = vmVariablesPath(zoneId);
  const jobFile = jobFilePath(zoneId, name);
  const log = deployLogPath(zoneId, name);
  const steps: Step[] = [
    writeFileStep(
      'deploy-vm-variables',
      `R3.2 write ${varsPath} from the template with deploy_${name}: 1 (one component per run)`,
      varsPath,
      vars,
      // No precondition: the per-run variables file is the operator's own, made from the template.
      undefined,
      ['zone_id', ...flags],
    ),
    {
      id: 'deploy-start',
      description: `R3.3 start deploy-qingcloud-component.py -v ${varsPath} as an installer job`,
      host: fb,
      // Detached (its own session), so the job outlives this SSH command; its id is kept in a file
      // so every later reconcile polls exactly this job.
      command: sh(
        `start the ${name} deployment`,
      )`mkdir -p /pitrix/conf/operator /pitrix/log/operator && rm -f ${jobFile} || exit 1; setsid nohup /pitrix/cli/deploy-qingcloud-component.py -v ${varsPath} > ${log} 2>&1 < /dev/null & pid=$!; i=0; while [ $i -lt 240 ]; do id=$(sed -n ${JOB_LINE_SED} ${log} | head -n 1); if [ -n "$id" ]; then echo "$id" > ${jobFile}; echo "started job $id"; exit 0; fi; if ! kill -0 $pid 2>/dev/null && [ $i -gt 0 ]; then cat ${log}; exit 1; fi; sleep 0.5; i=$((i+1)); done; cat ${log}; exit 1`,
      check: jobState(jobFile, ['running', 'successful'], 'deployment already started?'),
      timeoutMs: 5 * MIN,
    },
    {
      id: 'deploy-wait',
      description:
        'R3.3 wait for the deployment job (get-deploy-qingcloud-component-status.py; progress in status.progress)',
      host: fb,
      // Reached only when the job is neither running nor successful: show why, and fail.
      command: sh(
        'report the failed deployment',
      )`id=$(cat ${jobFile}); /pitrix/cli/get-deploy-qingcloud-component-status.py -j "$id"; /pitrix/cli/get-deploy-qingcloud-component-log.py -j "$id" | tail -n 20; echo "deployment job $id did not succeed; fix the cause, then annotate ops.pitrix.io/retry-step=deploy-start"; exit 1`,
      check: jobState(jobFile, ['successful'], 'deployment finished?'),
      timeoutMs: 5 * MIN,
    },
  ];
  if (name === 'boss') {
    steps.push(
      {
        id: 'deploy-dump-hosts',
        description: 'R3.4 export the hosts entries (dump_hosts.py); the console is boss.DOMAIN',
        host: fb,
        command: shell(['/pitrix/bin/dump_hosts.py'], 'dump hosts'),
        idempotent: true,
        timeoutMs: 5 * MIN,
      },
      {
        id: 'deploy-health',
        description: 'R3 maintain: health check on the first boss node (django_manage.sh areyouok)',
        host: fb,
        command: onFirstBoss('areyouok'),
        verify: (out) =>
          /^ok\b/m.test(out.trim()) ? undefined : `areyouok said: ${out.trim().slice(0, 300)}`,
        idempotent: true,
        timeoutMs: 5 * MIN,
      },
      {
        id: 'deploy-versions',
        description:
          'R3 maintain: record the installed versions on the first boss node (django_manage.sh versions)',
        host: fb,
        command: onFirstBoss('versions'),
        verify: (out) =>
          parseBossVersions(out)['pitrix-ks-boss2']
            ? undefined
            : 'pitrix-ks-boss2 is not listed as installed',
        idempotent: true,
        timeoutMs: 5 * MIN,
      },
    );
  } else {
    steps.push(programCheckStep('deploy-health', flavor, roleNodeIds));
  }
  return steps;
}

function programCheckStep(id: string, flavor: Flavor, nodeIds: string[]): Step {
  return {
    id,
    description: `check ${flavor.program} is RUNNING on the zone's ${flavor.role} nodes`,
    host: fb,
    command: execNodes(flavor.role, `supervisorctl status ${flavor.program}`, `status of ${flavor.program}`),
    acceptExitCodes: [0, 1, 3, 4],
    verify: (stdout) => {
      const blocks = parseExecNodes(stdout);
      const bad = nodeIds.filter(
        (n) => !new RegExp(`^${flavor.program}\\s+RUNNING`, 'm').test(blocks.byId.get(n)?.text ?? ''),
      );
      return bad.length ? `${flavor.program} is not RUNNING on ${bad.join(', ')}` : undefined;
    },
    idempotent: true,
    timeoutMs: 10 * MIN,
  };
}

export function websupervisorSteps(flavor: Flavor, nodeIds: string[]): Step[] {
  return [
    {
      id: 'websupervisor-build',
      description: `R3 optional: build ${flavor.pkg} (build_pkgs.py)`,
      host: fb,
      command: shell(['/pitrix/build/build_pkgs.py', '-p', flavor.pkg], 'build websupervisor'),
      idempotent: true,
      timeoutMs: 30 * MIN,
    },
    {
      id: 'websupervisor-update',
      description: `R3 optional: install ${flavor.pkg} on webservice nodes (update.sh webservice)`,
      host: fb,
      command: shell(['/pitrix/upgrade/update.sh', 'webservice', flavor.pkg], 'install websupervisor'),
      idempotent: true,
      timeoutMs: HOUR,
    },
    programCheckStep('websupervisor-verify', flavor, nodeIds),
  ];
}
