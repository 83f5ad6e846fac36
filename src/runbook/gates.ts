/**
 * Gates: what may hold a plan at a step boundary (never mid-step) — `spec.paused`, a maintenance
 * window, a human confirmation. Each is a pure decision on the next step; the runner asks them
 * in order before a plan starts and the engine asks them again between steps, so the condition a
 * watcher sees names the gate that actually holds the plan, in one write.
 */
import type { Plan, PlanStep } from '../api/common.js';

/** Why the plan waits: `reason` becomes Progressing=False's reason, `message` its message. */
export interface GateHold {
  reason: string;
  message: string;
  /** When to look again without an event (a window opening); undefined: wait for a change. */
  retryAfterMs?: number;
}

/** Decides whether `next` (the first unfinished step of `journal`) may start now. */
export type Gate = (next: PlanStep, journal: Plan) => GateHold | undefined;

/** The first gate that holds, in the order given. */
export function firstHold(gates: readonly Gate[], next: PlanStep, journal: Plan): GateHold | undefined {
  for (const gate of gates) {
    const hold = gate(next, journal);
    if (hold) return hold;
  }
  return undefined;
}

/** `spec.paused`, read afresh each time (a pause set mid-plan stops at the next step boundary). */
export const pauseGate =
  (isPaused: () => boolean): Gate =>
  (next) =>
    isPaused() ? { reason: 'Paused', message: `spec.paused is true; next step ${next.id}` } : undefined;
