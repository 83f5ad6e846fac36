/**
 * What the cluster and the operator showed humans during a test run, kept for the suite's leak
 * check (test/leakcheck.global.ts): every operator log line, every Event, every custom resource
 * (spec and status) and every command line the simulated hosts ran, next to the values of every
 * Secret the tests created. At the end of the run no secret value may appear in what was shown.
 *
 * Active only when PITRIX_EVIDENCE_DIR is set (the integration project's global setup sets it to a
 * private temporary directory); otherwise every function here does nothing.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

export const EVIDENCE_ENV = 'PITRIX_EVIDENCE_DIR';

/** Secret data keys whose values are credentials (user names and public material are not). */
const SECRET_KEY = /pass|private|token|secret|^key$|\.key$/i;

export function evidenceDir(): string | undefined {
  return process.env[EVIDENCE_ENV] || undefined;
}

/** Appends `text` to this process's file of `kind` (`shown` or `secrets`). */
export function keepEvidence(kind: 'shown' | 'secrets', text: string): void {
  const dir = evidenceDir();
  if (!dir || !text) return;
  appendFileSync(join(dir, `${kind}-${process.pid}.txt`), text.endsWith('\n') ? text : `${text}\n`, {
    mode: 0o600,
  });
}

type Kubectl = (
  args: string[],
  opts?: { allowFailure?: boolean },
) => Promise<{ code: number; stdout: string; stderr: string }>;

const KINDS = 'zones,nodepools,components,tagservers,webserviceupgrades';

/** Events and custom resources of one namespace (or all), and the credential values of its Secrets. */
export async function keepClusterEvidence(kubectl: Kubectl, namespace?: string): Promise<void> {
  if (!evidenceDir()) return;
  const scope = namespace ? ['-n', namespace] : ['-A'];
  for (const what of ['events', KINDS]) {
    const r = await kubectl(['get', what, ...scope, '-o', 'json'], { allowFailure: true });
    if (r.code === 0) keepEvidence('shown', r.stdout);
  }
  const s = await kubectl(['get', 'secrets', ...scope, '-o', 'json'], { allowFailure: true });
  if (s.code !== 0) return;
  const items = (JSON.parse(s.stdout) as { items: Array<{ data?: Record<string, string> }> }).items;
  const values: string[] = [];
  for (const item of items)
    for (const [k, v] of Object.entries(item.data ?? {}))
      if (SECRET_KEY.test(k)) values.push(Buffer.from(v, 'base64').toString('utf8'));
  if (values.length) keepEvidence('secrets', values.map((v) => JSON.stringify(v)).join('\n'));
}
