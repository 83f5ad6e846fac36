/**
 * The "already done?" checks and output verifications of the R4 steps. Checks run on the firstbox
 * and answer 0 (done) or 1 (not done) only when they could read the installer's answer; anything
 * they cannot read exits 2, which the engine treats as unknown (never as "not done"). Whether a
 * long job is still running is the job guard's answer (src/runbook/jobguard.ts), not a status
 * flag the runbooks do not name. Verifications are pure functions over a step's output.
 */
import type { NodePoolSpec } from '../../api/nodepool.js';
import { parseDescribeNodes } from '../../facts/nodes.js';
import { parseSupervisorStatus } from '../../facts/supervisor.js';
import { sh, shell } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { noAnswer, parseExecNodes } from '../execnodes.js';
import { nodeProblems } from './requirements.js';

// A constant program (no interpolation): statuses and addresses arrive as argv.
const NODES_IN_STATUS_PY = [
  'import json, sys',
  'try:',
  '    doc = json.load(sys.stdin)',
  "    nodes = doc['node_set']",
  "    status = dict((n['mgmt_ip'], n.get('status')) for n in nodes)",
  'except Exception as e:',
  "    sys.stderr.write('describe-nodes.py output not understood: %r\\n' % (e,))",
  '    sys.exit(2)',
  "want = set(sys.argv[1].split(','))",
  'sys.exit(0 if all(status.get(ip) in want for ip in sys.argv[2:]) else 1)',
].join('\n');

/** 0: every address has one of the statuses; 1: not; 2: the installer's answer could not be read. */
function nodesInStatus(ips: readonly string[], statuses: readonly string[], purpose: string): ShellCommand {
  const list = shell(['/pitrix/cli/describe-nodes.py', '-s', 'all', '-f', 'json'], 'list nodes');
  const match = shell(['python3', '-c', NODES_IN_STATUS_PY, statuses.join(','), ...ips], 'match node status');
  return sh(purpose)`out=$(${list}) || exit 2; printf '%s\n' "$out" | ${match}`;
}

/**
 * R4.4 ("check the hardware information of each node"): every new node is listed as available,
 * has what its role needs in the collected facts (nodeProblems: a data disk, Ubuntu), and the
 * disk corrections took effect.
 */
function verifyAvailable(stdout: string, ips: readonly string[], spec: NodePoolSpec): string | undefined {
  let nodes: ReturnType<typeof parseDescribeNodes>;
  try {
    nodes = parseDescribeNodes(stdout);
  } catch (err) {
    return `describe-nodes output unreadable: ${(err as Error).message}`;
  }
  const problems: string[] = [];
  for (const ip of ips) {
    const n = nodes.find((x) => x.mgmtIp === ip);
    if (!n) {
      problems.push(`${ip} is not listed as available`);
      continue;
    }
    for (const p of nodeProblems(spec.role, n)) problems.push(`${ip} ${p}`);
    const overrides = spec.nodes.find((x) => x.address === ip)?.diskOverrides ?? [];
    for (const o of overrides) {
      const disk = n.disks.find((d) => d.device === o.device);
      if (!disk) {
        problems.push(`${ip}: disk ${o.device} from diskOverrides was not collected`);
        continue;
      }
      if (o.type && disk.type !== o.type)
        problems.push(`${ip} ${o.device}: type ${disk.type}, expected ${o.type}`);
      if (o.enabled !== undefined && disk.enabled !== o.enabled) {
        problems.push(`${ip} ${o.device}: enabled=${disk.enabled}, expected ${o.enabled}`);
      }
      if (o.sizeGiB && disk.sizeGiB !== o.sizeGiB)
        problems.push(`${ip} ${o.device}: ${disk.sizeGiB} GiB, expected ${o.sizeGiB}`);
    }
  }
  return problems.length ? problems.join('; ') : undefined;
}

/**
 * R4.1, "view the newly added nodes" (`describe-nodes.py -s new`): every address the plan adds is
 * listed as new, except those the installer had already collected before this plan (`pastNew`).
 */
function verifyListedNew(
  stdout: string,
  ips: readonly string[],
  pastNew: readonly string[],
): string | undefined {
  let nodes: ReturnType<typeof parseDescribeNodes>;
  try {
    nodes = parseDescribeNodes(stdout);
  } catch (err) {
    return `describe-nodes output unreadable: ${(err as Error).message}`;
  }
  const listed = new Set(nodes.map((n) => n.mgmtIp));
  const missing = ips.filter((ip) => !listed.has(ip) && !pastNew.includes(ip));
  return missing.length
    ? `not listed as new after add-nodes.py: ${missing.join(', ')} (check the node list and /pitrix/cli/add-nodes.py's output)`
    : undefined;
}

/**
 * R4.9, `exec_nodes.sh vg|hyper "supervisorctl status"`: on every node of the role in the zone
 * (old ones too: update_hyper_mirror.sh restarted compute_server on them) every supervisor program
 * is RUNNING. Without `-f` exec_nodes.sh stops at the first failing node, so the nodes after it
 * have no output: that is reported with the node that stopped it, never taken as fine.
 */
function verifyServices(stdout: string, ips: readonly string[], role: string): string | undefined {
  const out = parseExecNodes(stdout);
  const problems: string[] = [];
  const silent: string[] = [];
  for (const ip of ips) {
    const text = out.byIp.get(ip)?.text;
    if (text === undefined) {
      if (out.ambiguous.includes(ip)) problems.push(`${ip}: ${noAnswer(out, ip, ip)}`);
      else silent.push(ip);
      continue;
    }
    const r = parseSupervisorStatus(text);
    if (!r.services || r.services.length === 0)
      problems.push(`${ip}: no supervisor programs (${r.availability})`);
    else {
      const bad = r.services.filter((s) => s.state !== 'RUNNING').map((s) => `${s.name} ${s.state}`);
      if (bad.length) problems.push(`${ip}: ${bad.join(', ')}`);
    }
  }
  if (silent.length)
    problems.push(
      `${silent.join(', ')}: no output from exec_nodes.sh ${role} (it stops at the first failing node${problems.length ? '' : '; see its output'})`,
    );
  return problems.length ? problems.join('; ') : undefined;
}

export const checks = { nodesInStatus, verifyAvailable, verifyListedNew, verifyServices };
