/**
 * metav1.Condition handling as apimachinery's `meta.SetStatusCondition` does it: the list is keyed
 * by type, and `lastTransitionTime` moves only when the status flips, so a reconcile that
 * recomputes the same conditions produces an identical status (and so no write).
 */

import type { Condition } from '../api/common.js';

// One Condition type: the API schema's (metav1.Condition field for field).
export type { Condition };
export type ConditionStatus = Condition['status'];

export type ConditionInput = Omit<Condition, 'lastTransitionTime'> & { lastTransitionTime?: string };

/** Returns a new list with `input` set; the input list is not modified. */
export function setCondition(
  list: readonly Condition[] | undefined,
  input: ConditionInput,
  now = new Date(),
): Condition[] {
  const conditions = [...(list ?? [])];
  const i = conditions.findIndex((c) => c.type === input.type);
  const existing = i >= 0 ? conditions[i] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    observedGeneration: input.observedGeneration,
    lastTransitionTime:
      existing && existing.status === input.status
        ? existing.lastTransitionTime
        : (input.lastTransitionTime ?? now.toISOString().replace(/\.\d{3}Z$/, 'Z')),
    reason: input.reason,
    message: truncateMessage(input.message),
  };
  if (next.observedGeneration === undefined) delete next.observedGeneration;
  if (i >= 0) conditions[i] = next;
  else conditions.push(next);
  return conditions;
}

export function findCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

export function isTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(list, type)?.status === 'True';
}

export function removeCondition(list: readonly Condition[] | undefined, type: string): Condition[] {
  return (list ?? []).filter((c) => c.type !== type);
}

/** The API server caps a condition message at 32768 bytes; stay well below, keeping the end. */
export function truncateMessage(message: string, max = 4096): string {
  return message.length <= max ? message : `…${message.slice(message.length - max + 1)}`;
}
