/**
 * Services from `supervisorctl status`. Runbooks use it as the health check ("every line
 * RUNNING", R4 step 9, R5 step 8), so "no supervisor", "supervisord down" and "a program FATAL"
 * must stay distinguishable.
 */
import { excerpt } from './errors.js';
import type { NodeFacts, ServiceState, ServiceStatus, SupervisorAvailability } from './types.js';

export interface SupervisorResult {
  availability: SupervisorAvailability;
  services: ServiceStatus[] | null;
  problems: string[];
}

const STATES: readonly ServiceState[] = [
  'RUNNING',
  'STARTING',
  'BACKOFF',
  'STOPPING',
  'STOPPED',
  'EXITED',
  'FATAL',
  'UNKNOWN',
];
const LINE = new RegExp(`^(\\S+)\\s+(${STATES.join('|')})\\b\\s*(.*)$`);

// bash: `supervisorctl: command not found`; dash: `sh: 1: supervisorctl: not found`.
const ABSENT = /supervisorctl:\s*(?:command )?not found/i;
// supervisorctl is there but cannot talk to supervisord: socket missing/refused (3.2+ wording),
// or Python's socket.error (3.0 on 14.04), or our probe's own timeout note.
const UNREACHABLE =
  /(?:unix|https?):\/\/\S+\s+(?:no such file|refused connection)|socket\.error|\[Errno \d+\]|SHUTDOWN_STATE|timed out/i;

export function parseSupervisorStatus(text: string): SupervisorResult {
  if (ABSENT.test(text)) return { availability: 'absent', services: null, problems: [] };
  if (UNREACHABLE.test(text)) {
    return {
      availability: 'unreachable',
      services: null,
      problems: [`supervisor: supervisord did not answer (${excerpt(text, 120)})`],
    };
  }
  const services: ServiceStatus[] = [];
  const unknown: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = LINE.exec(line);
    if (m?.[1] && m[2])
      services.push({ name: m[1], state: m[2] as ServiceState, detail: (m[3] ?? '').trim() });
    else unknown.push(line);
  }
  // Nothing but unrecognised text (`Error: .ini file does not include supervisorctl section`):
  // we could not learn the services, which is not the same as "there are none".
  if (services.length === 0 && unknown.length > 0) {
    return {
      availability: 'unreachable',
      services: null,
      problems: [`supervisor: unrecognised output (${excerpt(unknown[0] ?? '', 120)})`],
    };
  }
  const problems = unknown.length > 0 ? [`supervisor: ignored ${unknown.length} unrecognised line(s)`] : [];
  return { availability: 'ok', services, problems };
}

export interface ServicesCheck {
  ok: boolean;
  /** Programs that are not RUNNING, as `name (STATE)`. */
  notRunning: string[];
  message: string;
}

/**
 * The runbooks' health rule: every supervisor program RUNNING. `names` narrows it to programs
 * that must exist (a missing one fails). No or unreachable supervisor fails: we cannot vouch.
 */
export function checkServicesRunning(
  facts: Pick<NodeFacts, 'services' | 'supervisor'>,
  names?: readonly string[],
): ServicesCheck {
  if (facts.services === null) {
    const why = facts.supervisor === 'absent' ? 'no supervisor is installed' : 'supervisord did not answer';
    return { ok: false, notRunning: [], message: why };
  }
  const services = facts.services;
  const wanted = names ? services.filter((s) => names.includes(s.name)) : services;
  const notRunning = wanted.filter((s) => s.state !== 'RUNNING').map((s) => `${s.name} (${s.state})`);
  const missing = (names ?? [])
    .filter((n) => !services.some((s) => s.name === n))
    .map((n) => `${n} (missing)`);
  const bad = [...notRunning, ...missing];
  return bad.length === 0
    ? { ok: true, notRunning: [], message: `all ${wanted.length} program(s) RUNNING` }
    : { ok: false, notRunning: bad, message: `not running: ${bad.join(', ')}` };
}
