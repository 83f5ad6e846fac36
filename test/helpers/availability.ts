import type { TimelineEvent } from '../../hack/sim/types.js';

/** How many of `hosts` were down at one instant, at most, per the simulator's availability timeline. */
export function maxDownAtOnce(events: TimelineEvent[], hosts: string[]): number {
  const down = new Set<string>();
  let max = 0;
  for (const e of [...events].sort((a, b) => a.time - b.time)) {
    if (!hosts.includes(e.host)) continue;
    if (e.event === 'down') down.add(e.host);
    if (e.event === 'up') down.delete(e.host);
    max = Math.max(max, down.size);
  }
  return max;
}
