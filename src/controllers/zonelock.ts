/**
 * The zone lock: scale-out and upgrade/maintenance are mutually exclusive in a zone (runbook R4).
 * An operation that needs the zone records itself in the Zone's `status.lock`; every write carries
 * the Zone's resourceVersion, so two contenders cannot both win. A lock whose holder was deleted
 * (or recreated with another uid) or has finished is free.
 *
 * Why it cannot be stolen from a holder about to act: the holder persists its pending journal
 * first, then writes the lock again (renewedAt) even when it already holds it, and re-reads the
 * Zone before every step. A contender judges the holder on a fresh read; if it read the Zone before
 * the holder's renewal, its write fails on the resourceVersion; if after, it sees the holder's
 * pending journal and waits. A holder that finds the lock gone stops at the next step boundary.
 */
import type { ZoneLock } from '../api/zone.js';
import { isConflict, type KubeClient, type KubeObject, type ResourceType } from '../runtime/kube.js';

export interface LockHolder {
  kind: string;
  name: string;
  uid: string;
}

/** The identity an object holds a zone lock under. */
export function lockHolderOf(obj: KubeObject): LockHolder {
  return { kind: obj.kind, name: obj.metadata.name, uid: obj.metadata.uid };
}

/** Whether the recorded holder still needs the zone; looked up by the caller. */
export type HolderState = 'active' | 'finished' | 'gone';

export type LockDecision =
  | { kind: 'held' }
  | { kind: 'acquire'; replacing?: ZoneLock }
  | { kind: 'wait'; holder: ZoneLock };

/** Pure: what a requester should do given the current lock and the state of its holder. */
export function decideLock(
  lock: ZoneLock | undefined,
  me: LockHolder,
  holderState: HolderState,
): LockDecision {
  if (!lock) return { kind: 'acquire' };
  const h = lock.holder;
  if (h.kind === me.kind && h.name === me.name && (!h.uid || h.uid === me.uid)) return { kind: 'held' };
  if (holderState !== 'active') return { kind: 'acquire', replacing: lock };
  return { kind: 'wait', holder: lock };
}

export function describeHolder(lock: ZoneLock): string {
  return `${lock.holder.kind}/${lock.holder.name} (${lock.operation} since ${lock.acquiredAt ?? 'unknown'})`;
}

export interface ZoneRef {
  namespace: string;
  name: string;
}

type HolderLookup = (holder: ZoneLock['holder'], namespace: string) => Promise<HolderState>;

/**
 * Takes the zone for `me` or reports who holds it. Reads the Zone fresh from the API server (not
 * the cache) so the resourceVersion precondition is meaningful.
 */
export async function acquireZoneLock(
  client: KubeClient,
  zoneType: ResourceType,
  zone: ZoneRef,
  me: LockHolder,
  operation: string,
  lookup: HolderLookup,
): Promise<{ acquired: true } | { acquired: false; holder?: ZoneLock; reason: string }> {
  const obj = await client.get(zoneType, zone.namespace, zone.name);
  if (!obj) return { acquired: false, reason: `Zone ${zone.name} does not exist` };
  const status = (obj.status ?? {}) as { lock?: ZoneLock };
  const state = status.lock ? await lookup(status.lock.holder, zone.namespace) : 'gone';
  const decision = decideLock(status.lock, me, state);
  if (decision.kind === 'wait') {
    return { acquired: false, holder: decision.holder, reason: `held by ${describeHolder(decision.holder)}` };
  }
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  // Held: written again all the same (renewedAt), so the Zone's resourceVersion moves and a
  // contender that judged us from an older read cannot win.
  const lock: ZoneLock =
    decision.kind === 'held' && status.lock
      ? { ...status.lock, renewedAt: now }
      : { holder: { kind: me.kind, name: me.name, uid: me.uid }, operation, acquiredAt: now, renewedAt: now };
  try {
    await client.replaceStatus(zoneType, { ...obj, status: { ...status, lock } });
    return { acquired: true };
  } catch (err) {
    if (isConflict(err))
      return { acquired: false, reason: 'the Zone changed while taking the lock; retrying' };
    throw err;
  }
}

/** Before each step: the lock is still ours, on a fresh read; otherwise why not (stop). */
export async function verifyZoneLock(
  client: KubeClient,
  zoneType: ResourceType,
  zone: ZoneRef,
  me: LockHolder,
): Promise<string | undefined> {
  const obj = await client.get(zoneType, zone.namespace, zone.name);
  if (!obj) return `Zone ${zone.name} no longer exists`;
  const lock = (obj.status as { lock?: ZoneLock } | undefined)?.lock;
  if (!lock) return `the lock of zone ${zone.name} was released by someone else`;
  if (decideLock(lock, me, 'active').kind !== 'held')
    return `zone ${zone.name} is now held by ${describeHolder(lock)}`;
  return undefined;
}

/** Releases the lock if `me` holds it; a lock held by someone else is left alone. */
export async function releaseZoneLock(
  client: KubeClient,
  zoneType: ResourceType,
  zone: ZoneRef,
  me: LockHolder,
): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const obj = await client.get(zoneType, zone.namespace, zone.name);
    const status = (obj?.status ?? {}) as { lock?: ZoneLock };
    if (!obj || !status.lock) return;
    if (decideLock(status.lock, me, 'active').kind !== 'held') return;
    const { lock: _released, ...rest } = status;
    try {
      await client.replaceStatus(zoneType, { ...obj, status: rest });
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
}

/**
 * Releases the lock a finished run left, when the cached Zone still names `me` (a kind that does
 * not plan a finished run again never reaches the runner's own release): a fresh read only then.
 */
export async function releaseFinishedLock(
  client: KubeClient,
  zoneType: ResourceType,
  cached: KubeObject | { metadata: { namespace?: string; name: string }; status?: { lock?: ZoneLock } },
  me: LockHolder,
): Promise<void> {
  const lock = (cached.status as { lock?: ZoneLock } | undefined)?.lock;
  if (!lock || decideLock(lock, me, 'active').kind !== 'held') return;
  await releaseZoneLock(
    client,
    zoneType,
    { namespace: cached.metadata.namespace ?? '', name: cached.metadata.name },
    me,
  );
}
