/**
 * The output of the installer's `exec_nodes.sh [-f] TARGET 'CMD'`, read once for every runbook:
 * per node, a header `==== NODE_ID (MGMT_IP) ====` and the command's output, then a last line
 * `exec_nodes: N ok, M failed` (docs/platform-interface.md, "exec_nodes.sh / update.sh output").
 *
 * A node's output is text the node chose: it can print a line that looks like another node's
 * header, and "answer" for a node that is down or not RUNNING. exec_nodes.sh prints each node of
 * TARGET once, so a forged section shows as a node named twice; every section of a node named more
 * than once is dropped (that node then has no answer, which every caller treats as unknown, never
 * as healthy) and the node is listed in `ambiguous`, so the caller can say why.
 * ASSUMPTION: exec_nodes.sh names each node of TARGET at most once; if a real installer ever
 * repeats one, its answers are not judged (fail safe), and the step or observation says so.
 */

export interface NodeSection {
  nodeId: string;
  ip: string;
  text: string;
}

export interface ExecNodesOutput {
  /** By node id, only nodes named exactly once. */
  byId: Map<string, NodeSection>;
  /** By management IP, only nodes named exactly once. */
  byIp: Map<string, NodeSection>;
  /** Node ids and IPs of every section whose id or IP appeared more than once: not trusted. */
  ambiguous: string[];
}

const HEADER = /^==== (\S+) \((\S+)\) ====$/;

export function parseExecNodes(stdout: string): ExecNodesOutput {
  const sections: NodeSection[] = [];
  let current: NodeSection | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (current) sections.push({ ...current, text: lines.join('\n') });
    current = undefined;
  };
  for (const line of stdout.split('\n')) {
    const m = HEADER.exec(line.trim());
    if (m) {
      flush();
      current = { nodeId: m[1]!, ip: m[2]!, text: '' };
      lines = [];
    } else if (/^exec_nodes: /.test(line)) flush();
    else if (current) lines.push(line);
  }
  flush();

  const count = new Map<string, number>();
  for (const s of sections)
    for (const k of new Set([`id:${s.nodeId}`, `ip:${s.ip}`])) count.set(k, (count.get(k) ?? 0) + 1);
  const twice = (s: NodeSection) =>
    (count.get(`id:${s.nodeId}`) ?? 0) > 1 || (count.get(`ip:${s.ip}`) ?? 0) > 1;
  const ambiguous = new Set<string>();
  const byId = new Map<string, NodeSection>();
  const byIp = new Map<string, NodeSection>();
  for (const s of sections) {
    if (twice(s)) {
      ambiguous.add(s.nodeId);
      ambiguous.add(s.ip);
      continue;
    }
    byId.set(s.nodeId, s);
    byIp.set(s.ip, s);
  }
  return { byId, byIp, ambiguous: [...ambiguous] };
}

/** Why a node has no trusted answer, for a step's or an observation's message. */
export function noAnswer(out: ExecNodesOutput, node: string, ip?: string): string {
  return out.ambiguous.includes(node) || (ip !== undefined && out.ambiguous.includes(ip))
    ? `exec_nodes.sh output names ${node} more than once (a node's output imitates another's section); its answer is not trusted`
    : 'no output from exec_nodes.sh';
}
