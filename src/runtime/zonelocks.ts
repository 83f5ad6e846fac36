/**
 * The labels of the zone-lock gauge, from a Zone's `status.lock` (src/controllers/zonelock.ts
 * writes it). Pure, so the gauge reports exactly what the API server holds.
 */

/** The part of a Zone object the gauge reads. */
export interface LockedZone {
  metadata: { namespace?: string; name: string };
  status?: unknown;
}

export interface ZoneLockLabels {
  namespace: string;
  zone: string;
  operation: string;
  holder_kind: string;
  holder_name: string;
}

/** The gauge's labels for a Zone whose status records a lock; undefined when it records none. */
export function zoneLockLabels(zone: LockedZone): ZoneLockLabels | undefined {
  const lock = (
    zone.status as { lock?: { operation?: unknown; holder?: { kind?: unknown; name?: unknown } } }
  )?.lock;
  if (!lock || typeof lock !== 'object') return undefined;
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    namespace: zone.metadata.namespace ?? '',
    zone: zone.metadata.name,
    operation: text(lock.operation),
    holder_kind: text(lock.holder?.kind),
    holder_name: text(lock.holder?.name),
  };
}
