/** Durations in milliseconds, as every step timeout and requeue is written: one definition for all runbooks. */
export const SECOND = 1_000;
export const MIN = 60 * SECOND;
export const HOUR = 60 * MIN;
