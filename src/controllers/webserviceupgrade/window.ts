/**
 * The maintenance window of a WebserviceUpgrade: a node rebuild may START only inside it (one that
 * started always finishes). Pure functions of (window, instant), so they are unit tested.
 */
import type { UpgradeWindow, Weekday } from '../../api/webserviceupgrade.js';

const DAYS: Weekday[] = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** Weekday and minute of the day of `at` in an IANA time zone. */
export function localTime(at: Date, timezone: string): { day: Weekday; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const day = get('weekday') as Weekday;
  return { day, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

const minutes = (hhmm: string) => {
  const [h = '0', m = '0'] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
};

/** Whether a node may start now. A window whose end is before its start runs past midnight. */
export function windowOpen(window: UpgradeWindow | undefined, at: Date): boolean {
  if (!window) return true;
  const { day, minute } = localTime(at, window.timezone);
  const start = minutes(window.start);
  const end = minutes(window.end);
  if (start === end) return window.days.includes(day);
  if (start < end) return window.days.includes(day) && minute >= start && minute < end;
  const yesterday = DAYS[(DAYS.indexOf(day) + 6) % 7]!;
  return (window.days.includes(day) && minute >= start) || (window.days.includes(yesterday) && minute < end);
}

/** Milliseconds until the window next opens (0 when open; capped at 8 days). */
export function msUntilOpen(window: UpgradeWindow | undefined, at: Date): number {
  if (windowOpen(window, at)) return 0;
  const step = 60_000;
  const first = step - (at.getTime() % step);
  for (let t = first; t <= 8 * 24 * 3_600_000; t += step) {
    if (windowOpen(window, new Date(at.getTime() + t))) return t;
  }
  return 8 * 24 * 3_600_000;
}

export function describeWindow(w: UpgradeWindow): string {
  return `${w.days.join(',')} ${w.start}-${w.end} ${w.timezone}`;
}
