/**
 * The status writer: the only way controllers write status. It compares the desired status with
 * what the object already has and sends nothing when they are equal (a resync that changes nothing
 * costs zero writes), and writes with the object's resourceVersion so a stale view gets a 409
 * instead of overwriting newer status. Every status is first clamped to its CRD's bounds
 * (api/clamp.ts) so nothing observed can make the write fail; what was cut is named in a
 * `Truncated` condition (removed again once nothing is cut).
 */
import { isDeepStrictEqual } from 'node:util';
import { clampStatus } from '../api/clamp.js';
import { type Condition, setCondition } from './conditions.js';
import { isConflict, type KubeClient, type KubeObject, type ResourceType } from './kube.js';

export type StatusWriteOutcome = 'written' | 'unchanged' | 'conflict';

export type StatusWriterObserver = (kind: string, outcome: StatusWriteOutcome) => void;

/** Drops `undefined` members so that `{a: undefined}` equals `{}` as it will after a JSON round trip. */
export function normalize<T>(value: T): T {
  return JSON.parse(JSON.stringify(value ?? {})) as T;
}

export function statusChanged(current: unknown, desired: unknown): boolean {
  return !isDeepStrictEqual(normalize(current), normalize(desired));
}

export class StatusWriter {
  constructor(
    private readonly client: KubeClient,
    private readonly observe?: StatusWriterObserver,
  ) {}

  /**
   * Writes `desired` as the object's status if it differs. Returns the outcome and, when written,
   * the updated object (whose resourceVersion the caller must use for any further write).
   */
  async write(
    type: ResourceType,
    obj: KubeObject,
    input: Record<string, unknown>,
  ): Promise<{ outcome: StatusWriteOutcome; object: KubeObject }> {
    const desired = clampedStatus(type.kind, input);
    if (!statusChanged(obj.status, desired)) {
      this.observe?.(type.kind, 'unchanged');
      return { outcome: 'unchanged', object: obj };
    }
    try {
      const updated = await this.client.replaceStatus(type, { ...obj, status: normalize(desired) });
      this.observe?.(type.kind, 'written');
      return { outcome: 'written', object: updated };
    } catch (err) {
      if (isConflict(err)) {
        this.observe?.(type.kind, 'conflict');
        return { outcome: 'conflict', object: obj };
      }
      throw err;
    }
  }
}

/** The status as it can be written: clamped to the kind's bounds, cuts reported as a condition. */
export function clampedStatus(kind: string, status: Record<string, unknown>): Record<string, unknown> {
  const first = clampStatus(kind, normalize(status));
  const conditions = (first.value.conditions as Condition[] | undefined) ?? [];
  if (first.omitted.length === 0) {
    if (!conditions.some((c) => c.type === 'Truncated')) return first.value;
    return { ...first.value, conditions: conditions.filter((c) => c.type !== 'Truncated') };
  }
  const shown = first.omitted.slice(0, 10).join('; ');
  const more = first.omitted.length > 10 ? `; and ${first.omitted.length - 10} more` : '';
  const withCondition = {
    ...first.value,
    conditions: setCondition(conditions, {
      type: 'Truncated',
      status: 'True',
      reason: 'ObservedDataClamped',
      message: `observed data exceeds the status schema's bounds and was cut to fit (the platform itself is unchanged): ${shown}${more}`,
    }),
  };
  // The condition itself may push the list over its bound: clamp once more.
  return clampStatus(kind, withCondition).value;
}
