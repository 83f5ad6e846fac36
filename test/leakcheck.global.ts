/**
 * Global setup of the integration project: a private directory where the control planes, the
 * scenarios and the operators keep what they showed (hack/evidence.ts), and, after the last file,
 * the check that no value of any Secret the tests created appears in any operator log line, Event,
 * custom resource or command line of a simulated host (issue 12: "the whole suite's logs, Events
 * and statuses grepped for every secret value the tests use: 0 hits"). A hit fails the run.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVIDENCE_ENV } from '../hack/evidence.js';
import { findLeaks, MIN_NEEDLE, needles } from './helpers/leaks.js';

let dir: string | undefined;

export function setup() {
  dir = mkdtempSync(join(tmpdir(), 'pitrix-evidence-'));
  process.env[EVIDENCE_ENV] = dir;
}

export function teardown() {
  if (!dir) return;
  const files = readdirSync(dir);
  const shown = files
    .filter((f) => f.startsWith('shown-'))
    .map((f) => ({ file: f, text: readFileSync(join(dir!, f), 'utf8') }));
  const secrets = files
    .filter((f) => f.startsWith('secrets-'))
    .flatMap((f) => readFileSync(join(dir!, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as string);
  const distinct = [...new Set(secrets)];
  const searched = distinct.filter((v) => needles(v).length > 0);
  const leaks = findLeaks(shown, distinct);
  const bytes = shown.reduce((n, f) => n + f.text.length, 0);
  rmSync(dir, { recursive: true, force: true });
  const line = `leak check: ${distinct.length} secret value(s) (${distinct.length - searched.length} shorter than ${MIN_NEEDLE} characters not searched) in ${shown.length} file(s), ${(bytes / 1024 / 1024).toFixed(1)} MiB of logs, Events, resources and host command lines: ${leaks.length} hit(s)`;
  process.stdout.write(`\n${line}\n`);
  if (leaks.length > 0)
    throw new Error(`${line}\n${leaks.map((l) => `  secret ${l.secret} appears in ${l.file}`).join('\n')}`);
}
