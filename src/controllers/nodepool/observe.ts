/**
 * The read-only half of R4: what the installer knows about the pool's nodes, and what each node
 * reports about itself. Shared by the controller and `pitrix-operator plan --kubeconfig`; it runs
 * only fact probes, never a runbook step.
 */
import type { NodePool } from '../../api/nodepool.js';
import type { Zone } from '../../api/zone.js';
import { collectFirstboxFacts, collectMany } from '../../facts/collector.js';
import type { PlatformNode } from '../../facts/types.js';
import type { HostTarget } from '../../ssh/types.js';
import { classifyAccessError } from '../errors.js';
import type { Platform, ZoneAccess } from '../platform.js';
import type { NodeObservation } from './plan.js';

export interface PoolObservation {
  access: ZoneAccess;
  platformNodes: PlatformNode[];
  observations: Record<string, NodeObservation>;
  /** Host key fingerprint per node address, learned through the firstbox or as pinned before. */
  hostKeys: Record<string, string>;
}

/** Throws (classify with classifyAccessError) when the firstbox cannot be used; node problems are per node. */
export async function observePool(
  platform: Platform,
  zone: Zone,
  pool: NodePool,
  pinned: ReadonlyMap<string, string | undefined>,
  signal?: AbortSignal,
): Promise<PoolObservation> {
  const access = await platform.forZone(zone);
  const platformNodes = (await collectFirstboxFacts(access.pool, access.firstbox, { signal })).nodes;
  const observations: Record<string, NodeObservation> = {};
  const hostKeys: Record<string, string> = {};
  const targets: HostTarget[] = [];
  for (const n of pool.spec.nodes) {
    try {
      hostKeys[n.address] = await access.learnNodeHostKey(
        n.address,
        pool.spec.sshPort,
        pinned.get(n.address),
      );
      targets.push(access.node(n.address, pool.spec.sshPort, access.credentials.username ?? 'root'));
    } catch (err) {
      observations[n.address] = { error: classifyAccessError(err, n.address).message };
    }
  }
  for (const r of await collectMany(access.pool, targets, { concurrency: 8, signal, timeoutMs: 60_000 })) {
    observations[r.target.address] = r.ok
      ? { facts: r.value }
      : { error: classifyAccessError(r.error, r.target.address).message };
  }
  return { access, platformNodes, observations, hostKeys };
}
