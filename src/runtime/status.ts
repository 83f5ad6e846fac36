/**
 * The status writer: the only way controllers write status. It compares the desired status with
 * what the object already has and sends nothing when they are equal (a resync that changes nothing
 * costs zero writes), and writes with the object's resourceVersion so a stale view gets a 409
 * instead of overwriting newer status.
 */
import { isDeepStrictEqual } from 'node:util';
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
    desired: Record<string, unknown>,
  ): Promise<{ outcome: StatusWriteOutcome; object: KubeObject }> {
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
