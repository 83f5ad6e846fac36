/**
 * Runbook R5 step 8, the health gate after each node: its services RUNNING (through the firstbox's
 * ssh, which checks the re-pinned key in its known_hosts), then rounds on firstbox until
 * minReadySeconds have passed (services, console or node API, the API through the VIP,
 * spec.healthChecks). Nothing is done to the next node until it passes.
 */
import type { WebserviceUpgradeSpec } from '../../api/webserviceupgrade.js';
import type { Step } from '../../runbook/step.js';
import { seq, sh, shell, validated } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { verifySupervisor } from './checks.js';
import { execNodes, type UpgradeZoneView } from './installer.js';
import type { PlannedNode } from './order.js';

const MIN = 60_000;

/** The R5.8 steps that end node `n`'s rollout. */
export function healthGateSteps(
  n: PlannedNode,
  zone: UpgradeZoneView,
  floatingIp: string | undefined,
  spec: WebserviceUpgradeSpec,
): Step[] {
  const fb = { kind: 'firstbox' } as const;
  const node = { kind: 'node', address: n.address, port: 22 } as const;
  return [
    {
      id: `verifyServices-${n.name}`,
      description: `R5.8 supervisorctl status on ${n.name} (through the firstbox's ssh, its re-pinned key): every program RUNNING`,
      host: node,
      command: shell(['supervisorctl', 'status'], 'check services'),
      acceptExitCodes: [0, 3],
      verify: (out) => verifySupervisor(out, n.name),
      idempotent: true,
      timeoutMs: 2 * MIN,
    },
    {
      id: `healthGate-${n.name}`,
      description: `R5.8 health gate for ${n.name}: services, ${zone.global ? 'console, ' : ''}API through ${floatingIp ? `the VIP ${floatingIp}` : 'the node'}${spec.healthChecks?.length ? `, ${spec.healthChecks.map((c) => c.name).join(', ')}` : ''}; healthy for ${spec.minReadySeconds}s`,
      host: fb,
      command: healthGate(n, zone, floatingIp, spec),
      idempotent: true,
      timeoutMs: spec.minReadySeconds * 1000 + 10 * MIN,
    },
  ];
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
