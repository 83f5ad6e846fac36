/**
 * Runbook R3 steps 2-4: deploy BOSS V2 or cronus through deploy-qingcloud-component.py (one
 * component per installer job), and the optional websupervisor install; each ends with a check that
 * what was deployed runs.
 *
 * The deployment, build_pkgs.py and update.sh are long platform jobs: they run under the job guard
 * (src/runbook/jobguard.ts, lock scope = the zone), so "still running" is the guard's pidfile, a
 * second start is refused by the guard and a dropped connection or an operator restart changes
 * nothing on the firstbox. Only the runbook's own command lines run (seed 002 lines 101-104:
 * `deploy-qingcloud-component.py -v FILE`); whether the job succeeded is its exit code, recorded by
 * the guard. The status tool (named without arguments, its output not shown by the runbook) feeds
 * only status.progress, never a decision (observe.ts).
 */
import { guardedStep } from '../../runbook/jobguard.js';
import type { Step } from '../../runbook/step.js';
import { sh, shell } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { parseExecNodes } from '../execnodes.js';
import { onFirstBoss, parseBossVersions, VM_TEMPLATE, vmVariablesPath } from './observe.js';
import type { ComponentPlanInput, Flavor } from './plan.js';
import { execNodes, fb, HOUR, MIN, PlanError, writeFileStep } from './steps-common.js';
import { applySettings } from './yamledit.js';

/** The id of the guarded deployment step (controller.ts reports its progress). */
export const DEPLOY_STEP = 'deployComponent';
/**
 * The steps of the deploy and websupervisor sections, by name: plan.ts keeps an unfinished section
 * in the plan by them (and refuses a section step not listed here).
 */
export const DEPLOY_ACTIONS = [
  'writeVmVariables',
  DEPLOY_STEP,
  'dumpHosts',
  'checkConsole',
  'checkBossHealth',
  'checkBossVersions',
  'checkComponentRunning',
] as const;
export const WEBSUPERVISOR_ACTIONS = [
  'buildWebsupervisor',
  'updateWebsupervisor',
  'checkWebsupervisorRunning',
] as const;
/** How long the deployment step follows its job before the check takes over. */
const FOLLOW_MS = MIN;

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
  const steps: Step[] = [
    writeFileStep(
      'writeVmVariables',
      `R3.2 write ${varsPath} from the template with deploy_${name}: 1 (one component per run)`,
      varsPath,
      vars,
      // No precondition: the per-run variables file is the operator's own, made from the template.
      undefined,
      ['zone_id', ...flags],
    ),
    // The job id carries the variables file it reads: a later deployment with other variables is
    // other work, never "already done". No runbook status check answers "deployed?" in a form a
    // decision may rest on, so without a job directory the deployment is not done (planComponent
    // plans it only when the role's nodes do not carry the package).
    guardedStep(
      {
        id: DEPLOY_STEP,
        description: `R3.3 deploy ${name} (deploy-qingcloud-component.py -v ${varsPath}) under the job guard (followed 1 min, then by its check); progress in status.progress (get-deploy-qingcloud-component-status.py)`,
        host: fb,
        command: shell(['/pitrix/cli/deploy-qingcloud-component.py', '-v', varsPath], `deploy ${name}`),
        // "This step takes a long time" (seed 002 line 104). The guard's run follows the job for a
        // minute; when that ends the job runs on, and the step's check (the guard's pidfile) follows
        // it every 3 s, each reconcile refreshing status.progress — a long follow would hold the
        // reconcile, and the progress with it, until the job ends.
        timeoutMs: FOLLOW_MS,
      },
      { lockScope: zoneId, inputs: [vars] },
    ),
  ];
  if (name === 'boss') {
    steps.push(
      {
        id: 'dumpHosts',
        description: 'R3.4 export the hosts entries (dump_hosts.py); the console is boss.DOMAIN',
        host: fb,
        command: shell(['/pitrix/bin/dump_hosts.py'], 'dump hosts'),
        idempotent: true,
        timeoutMs: 5 * MIN,
      },
      {
        id: 'checkConsole',
        description:
          'R3.4 the console answers at boss.DOMAIN (the address dump_hosts.py exports for it, over http)',
        host: fb,
        command: consoleCheck(),
        readOnly: true,
        timeoutMs: MIN,
      },
      {
        id: 'checkBossHealth',
        description: 'R3 maintain: health check on the first boss node (django_manage.sh areyouok)',
        host: fb,
        command: onFirstBoss('areyouok'),
        verify: (out) =>
          /^ok\b/m.test(out.trim()) ? undefined : `areyouok said: ${out.trim().slice(0, 300)}`,
        idempotent: true,
        timeoutMs: 5 * MIN,
      },
      {
        id: 'checkBossVersions',
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
    steps.push(programCheckStep('checkComponentRunning', flavor, roleNodeIds));
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

export function websupervisorSteps(zoneId: string, flavor: Flavor, nodeIds: string[]): Step[] {
  return [
    guardedStep(
      {
        id: 'buildWebsupervisor',
        description: `R3 optional: build ${flavor.pkg} (build_pkgs.py) under the job guard`,
        host: fb,
        command: shell(['/pitrix/build/build_pkgs.py', '-p', flavor.pkg], 'build websupervisor'),
        timeoutMs: 30 * MIN,
      },
      { lockScope: zoneId },
    ),
    guardedStep(
      {
        id: 'updateWebsupervisor',
        description: `R3 optional: install ${flavor.pkg} on webservice nodes (update.sh webservice) under the job guard`,
        host: fb,
        command: shell(['/pitrix/upgrade/update.sh', 'webservice', flavor.pkg], 'install websupervisor'),
        timeoutMs: HOUR,
      },
      { lockScope: zoneId },
    ),
    programCheckStep('checkWebsupervisorRunning', flavor, nodeIds),
  ];
}

/**
 * "The access URL is boss.DOMAIN" (seed 002 line 116), reached as a browser given dump_hosts.py's
 * entries would reach it. ASSUMPTION (docs/platform-interface.md): dump_hosts.py prints hosts-file
 * lines (`IP NAME…`) with one `boss.DOMAIN` name, and the console answers plain http there (the
 * original says neither, line 119). Any 2xx or 3xx is the console; anything else, or no such
 * entry, fails the step with what it saw: the deployment is not reported done on a guess.
 */
export function consoleCheck(): ShellCommand {
  return sh(
    'check the BOSS console at boss.DOMAIN',
  )`set -f; set -- $(/pitrix/bin/dump_hosts.py | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^boss[.]/) { print $1, $i; exit }}'); test -n "$2" || { echo 'dump_hosts.py exports no boss.DOMAIN entry'; exit 1; }; code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Host: $2" "http://$1/"); echo "console http://$2/ at $1: HTTP $code"; case "$code" in 2??|3??) exit 0;; esac; exit 1`;
}
