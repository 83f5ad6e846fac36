/**
 * What every R1 (tag service) step shares: they run on the global zone's firstbox, with
 * timeouts counted in minutes and hours.
 */
export const MIN = 60_000;
export const HOUR = 60 * MIN;

export const fb = { kind: 'firstbox' } as const;
