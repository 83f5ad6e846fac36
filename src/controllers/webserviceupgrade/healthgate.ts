/**
 * Runbook R5 step 8, the health gate after each node: its services RUNNING (through the firstbox's
 * ssh, which checks the re-pinned key in its known_hosts), then rounds on firstbox until
 * minReadySeconds have passed (services, console or node API, the API through the VIP,
 * spec.healthChecks). Nothing is done to the next node until it passes.
 */
import type { CheckHost, WebserviceUpgradeSpec } from '../../api/webserviceupgrade.js';
import { forNode, type Step } from '../../runbook/step.js';
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
      ...forNode('verifyServices', n.name),
      description: `R5.8 supervisorctl status on ${n.name} (through the firstbox's ssh, its re-pinned key): every program RUNNING`,
      host: node,
      command: shell(['supervisorctl', 'status'], 'check services'),
      acceptExitCodes: [0, 3],
      verify: (out) => verifySupervisor(out, n.name),
      idempotent: true,
      timeoutMs: 2 * MIN,
    },
    {
      ...forNode('healthGate', n.name),
      description: `R5.8 health gate for ${n.name}: services, ${zone.global ? 'console, ' : ''}API through ${floatingIp ? `the VIP ${floatingIp}` : 'the node'}${spec.healthChecks?.length ? `, ${spec.healthChecks.map((c) => c.name).join(', ')}` : ''}; healthy for ${spec.minReadySeconds}s`,
      host: fb,
      command: healthGate(n, zone, floatingIp, spec),
      idempotent: true,
      timeoutMs: spec.minReadySeconds * 1000 + 10 * MIN,
    },
  ];
}

/**
 * awk over `exec_nodes.sh NODE supervisorctl status`: healthy when at least one program is listed
 * and all are RUNNING; otherwise its one line names the programs that are NOT RUNNING. Names and
 * states are printed only when they look like supervisor's own words, so a node cannot put text of
 * its choosing into the verdict.
 */
const ALL_RUNNING_AWK =
  '/^====|^exec_nodes:/{next} NF>=2{n++; if($2!="RUNNING"){p=$1; s=$2; if(p!~/^[A-Za-z0-9_.:-]+$/)p="?"; if(s!~/^[A-Z_]+$/)s="?"; bad=bad sep p" "s; sep=", "}} ' +
  'END{if(n==0){print "no supervisor programs listed"; exit 1} if(bad!=""){print "not RUNNING: " substr(bad,1,300); exit 1}}';

/** awk over `supervisorctl status NAME`: healthy when NAME is RUNNING; else its state, verbatim only if it is a state word. */
const PROGRAM_RUNNING_AWK =
  '$1==p{s=$2} END{if(s=="RUNNING")exit 0; if(s=="")s="not listed"; else if(s!~/^[A-Z_]+$/)s="in an unrecognised state"; printf "program %s is %s (must be RUNNING)\\n", p, s; exit 1}';

/** A failing check prints one verdict line made by the operator; this says how to reach it. */
export interface GateCheck {
  name: string;
  command: ShellCommand;
}

function hostAddress(host: CheckHost, n: Pick<PlannedNode, 'address'>, floatingIp: string | undefined) {
  return host === 'VIP' ? floatingIp : n.address;
}

/** Fails with a verdict that says what is unknown (fail closed: no address, no pass). */
const unknown = (verdict: string) => sh('unknown target')`echo ${verdict}; false`;

/** GET from firstbox; healthy when the status is `expected`. Only the status digits are read back. */
function httpGet(url: string, expected: number, purpose: string): ShellCommand {
  const curl = shell(['curl', '-sS', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', url], purpose);
  return sh(
    purpose,
  )`code=$(${curl} 2>/dev/null | tr -cd 0-9 | cut -c1-3); [ -n "$code" ] || code=000; [ "$code" = ${String(expected)} ] || { printf 'GET %s answered HTTP %s, expected %s\\n' ${url} "$code" ${String(expected)}; false; }`;
}

/** A TCP connect from firstbox (`nc -z`, an ASSUMPTION in docs/platform-interface.md). */
function tcpOpen(address: string, port: number, purpose: string): ShellCommand {
  const nc = shell(['nc', '-z', '-w', '5', address, String(port)], purpose);
  return sh(
    purpose,
  )`${nc} >/dev/null 2>&1 || { echo ${`TCP ${address}:${port} does not accept connections`}; false; }`;
}

/** The checks of the health gate, each a named firstbox command that prints only its verdict. */
export function healthChecks(
  n: Pick<PlannedNode, 'name' | 'address'>,
  zone: UpgradeZoneView,
  floatingIp: string | undefined,
  spec: WebserviceUpgradeSpec,
): GateCheck[] {
  const address = validated('HOST', n.address, `address of ${n.name}`);
  const checks: GateCheck[] = [
    {
      name: 'supervisor',
      command: sh(
        'services running',
      )`${execNodes(n.name, shell(['supervisorctl', 'status'], 'status'), 'supervisor status')} 2>/dev/null | awk ${ALL_RUNNING_AWK}`,
    },
  ];
  if (zone.global) checks.push({ name: 'console', command: httpGet(`http://${address}/`, 200, 'console') });
  else checks.push({ name: 'api-node', command: httpGet(`http://${address}:7777/`, 200, 'node API') });
  checks.push({
    name: floatingIp ? 'api-vip' : 'api',
    command: httpGet(`http://${floatingIp ?? address}:7777/`, 200, 'API'),
  });
  for (const c of spec.healthChecks ?? []) {
    const field = `spec.healthChecks[${c.name}]`;
    let command: ShellCommand;
    if (c.httpGet) {
      const g = c.httpGet;
      const target = hostAddress(g.host, n, floatingIp);
      const path = validated('URL_PATH', g.path, `${field}.httpGet.path`);
      command = target
        ? httpGet(`${g.scheme}://${target}:${g.port}${path}`, g.expectedStatus, c.name)
        : unknown('no floating IP is known for host: VIP (set spec.floatingIP)');
    } else if (c.tcpPort) {
      const target = hostAddress(c.tcpPort.host, n, floatingIp);
      command = target
        ? tcpOpen(target, c.tcpPort.port, c.name)
        : unknown('no floating IP is known for host: VIP (set spec.floatingIP)');
    } else {
      const program = validated(
        'SUPERVISOR_PROGRAM',
        c.supervisorProgram!.name,
        `${field}.supervisorProgram.name`,
      );
      const status = execNodes(
        n.name,
        shell(['supervisorctl', 'status', program], 'status'),
        `status of ${program}`,
      );
      command = sh(c.name)`${status} 2>/dev/null | awk -v p=${program} ${PROGRAM_RUNNING_AWK}`;
    }
    checks.push({ name: c.name, command });
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
  // The verdict is the check's first stdout line (made by the check, see above), cut to 300
  // characters; the output of what a check ran never reaches the journal, status or Events.
  const body = seq(
    checks.map(
      (c) =>
        sh(
          `check ${c.name}`,
        )`if ! out=$(${c.command}); then printf 'health check %s failed on %s (%s): %s\\n' ${c.name} ${n.name} ${n.address} "$(printf '%s' "$out" | head -n 1 | cut -c1-300)"; exit 1; fi`,
    ),
    'health checks',
  );
  return sh(
    `health gate for ${n.name}`,
  )`end=$(( $(date +%s) + ${String(spec.minReadySeconds)} )); round=0; while :; do round=$((round+1)); ${body}; if [ "$(date +%s)" -ge "$end" ]; then break; fi; sleep ${interval}; done; echo ${`${n.name} healthy for ${spec.minReadySeconds}s:`} ${checks.map((c) => c.name).join(',')} "($round rounds)"`;
}
