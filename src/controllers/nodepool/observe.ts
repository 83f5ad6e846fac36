/**
 * The read-only half of R4: what the installer knows about the pool's nodes, and what each listed
 * node reports about itself. Shared by the controller and `pitrix-operator plan --kubeconfig`; it
 * runs only fact probes, never a runbook step.
 *
 * Trust boundary (issue 12): a node is contacted only once the installer lists it (collected,
 * available or deployed), and only through the firstbox's own ssh (ZoneAccess.node). A machine the
 * installer does not list yet, or lists as `new`, is touched only by the runbook's own tools run by
 * the plan (add-nodes.py, establish_ssh.sh, collect-nodes.py): it is reported Pending without facts.
 */
import type { NodePool } from '../../api/nodepool.js';
import type { Zone } from '../../api/zone.js';
import { collectFirstboxFacts, collectMany } from '../../facts/collector.js';
import type { PlatformNode } from '../../facts/types.js';
import { knownHostsName } from '../../ssh/hostkeys.js';
import type { HostTarget } from '../../ssh/types.js';
import { classifyAccessError } from '../errors.js';
import type { Platform, ZoneAccess } from '../platform.js';
import { serverYamlPath } from '../tagserver/observe.js';
import { type FirstboxFiles, readFirstboxFiles, SETTINGS_TEMPLATE } from '../templatefill.js';
import type { NodeObservation } from './plan.js';

export interface PoolObservation {
  access: ZoneAccess;
  platformNodes: PlatformNode[];
  observations: Record<string, NodeObservation>;
  /** Host key fingerprint per node address, as the firstbox's known_hosts holds it. */
  hostKeys: Record<string, string>;
  /** Files the plan reads (plan.ts `files`). */
  files: FirstboxFiles;
}

export const NOT_LISTED = 'not listed by the installer yet: facts come from collect-nodes.py';
export const LISTED_NEW = 'listed by the installer as new: facts come from collect-nodes.py';

/** Throws (classify with classifyAccessError) when the firstbox cannot be used; node problems are per node. */
export async function observePool(
  platform: Platform,
  zone: Zone,
  pool: NodePool,
  signal?: AbortSignal,
): Promise<PoolObservation> {
  const access = await platform.forZone(zone);
  const platformNodes = (await collectFirstboxFacts(access.pool, access.firstbox, { signal })).nodes;
  const listed = new Map(platformNodes.map((n) => [n.mgmtIp, n]));
  const observations: Record<string, NodeObservation> = {};
  const hostKeys: Record<string, string> = {};
  const targets: HostTarget[] = [];
  const port = pool.spec.sshPort;
  for (const n of pool.spec.nodes) {
    const known = listed.get(n.address);
    if (!known) {
      observations[n.address] = { pending: NOT_LISTED };
      continue;
    }
    if (known.status === 'new') {
      observations[n.address] = { pending: LISTED_NEW };
      continue;
    }
    // Another zone's node is rejected by the plan from the installer's list alone.
    if (known.zoneId !== zone.spec.zoneId) continue;
    try {
      const fp = await access.learnNodeHostKey(n.address, port);
      if (!fp) {
        observations[n.address] = {
          error:
            `the firstbox's known_hosts has no host key for ${knownHostsName(n.address, port)}, so it cannot reach the node ` +
            '(nodes are reached through the firstbox with StrictHostKeyChecking=yes); check spec.sshPort, or verify the ' +
            "node's key out of band and add it to /root/.ssh/known_hosts on the firstbox",
        };
        continue;
      }
      hostKeys[n.address] = fp;
      targets.push(access.node(n.address, port, 'root'));
    } catch (err) {
      observations[n.address] = { error: classifyAccessError(err, n.address).message };
    }
  }
  for (const r of await collectMany(access.pool, targets, { concurrency: 8, signal, timeoutMs: 60_000 })) {
    observations[r.target.address] = r.ok
      ? { facts: r.value }
      : { error: classifyAccessError(r.error, r.target.address).message };
  }
  const files = await readFirstboxFiles(access, poolFiles(pool.spec.role, zone.spec.zoneId), signal);
  return { access, platformNodes, observations, hostKeys, files };
}

/**
 * The template the scale settings are copied from and, for hyper pools, the zone's server.yaml
 * (the QEMU section; ASSUMPTION: the runbook's `server.yaml` is this file, as in R1 and R3).
 */
export function poolFiles(role: string, zoneId: string): string[] {
  return [SETTINGS_TEMPLATE, ...(role === 'hyper' ? [serverYamlPath(zoneId)] : [])];
}
