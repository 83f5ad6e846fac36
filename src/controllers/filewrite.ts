/**
 * Every remote file write, written once: the new content travels on the command's stdin, never in
 * its text (so it is not in `ps` on the firstbox, the journal `status.plan.steps[].command`, Events
 * or the plan hash), and the command carries only sha256 digests: of the content the operator read
 * (a precondition: the file changed since → refuse, the next reconcile reads it again), and of the
 * content it sends (checked on arrival before the file is replaced, and the step's "already done?"
 * check). Approving a plan hash therefore approves the exact bytes, by digest. The original is
 * copied once to `backup` before the first replacement.
 *
 * The precondition is the first word of the command (`pre=DIGEST|absent|none;`) so a re-plan while
 * the write may already have run (journaled Running or Succeeded) keeps the digest it was planned
 * with: the file then holds the new content, and a fresh digest would change the plan hash (and
 * ask for approval again) halfway through a run.
 */
import { createHash } from 'node:crypto';
import type { Plan } from '../api/common.js';
import type { Step } from '../runbook/step.js';
import { sh } from '../ssh/command.js';

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface FileWrite {
  id: string;
  /** The runbook action of a write repeated per subject (`forSubject`), without the subject. */
  action?: string;
  /** What and why, with the runbook reference; a summary (path, keys changed) is appended. */
  description: string;
  path: string;
  /** The new content, fed on stdin. */
  content: string;
  /**
   * What the operator read: its content (the file must still hold exactly that), `null` (the file
   * must not exist), or undefined (no precondition: a file the operator owns outright).
   */
  before?: string | null;
  /** One-time copy of the original, made before the first replacement. */
  backup: string;
  /** The temporary file next to `path` the content is received in. */
  tmp?: string;
  /** One line for the description: what changes (`keys a.b, c.d`); never the content. */
  summary?: string;
  /** The previous journal: a write it shows Running or Succeeded keeps its planned precondition. */
  journal?: Plan;
  timeoutMs: number;
}

export function fileWriteStep(w: FileWrite): Step {
  const after = sha256(w.content);
  const tmp = w.tmp ?? `${w.path}.operator-new`;
  const dir = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
  const changed = `${w.path} changed since the operator read it; the next reconcile reads it again`;
  const pre =
    journaledPrecondition(w.journal, w.id) ??
    (w.before === undefined ? 'none' : w.before === null ? 'absent' : sha256(w.before));
  const size = Buffer.byteLength(w.content, 'utf8');
  return {
    id: w.id,
    ...(w.action === undefined ? {} : { action: w.action }),
    description: `${w.description} (${w.summary ? `${w.summary}; ` : ''}${size} bytes on stdin, sha256 ${after.slice(0, 12)})`,
    host: { kind: 'firstbox' },
    command: sh(
      `write ${w.path}`,
    )`pre=${pre}; { [ "$pre" = none ] || { [ "$pre" = absent ] && [ ! -e ${w.path} ]; } || [ "$(sha256sum < ${w.path} 2>/dev/null | cut -c1-64)" = "$pre" ] || { echo ${changed} >&2; exit 1; }; } && mkdir -p ${dir(w.backup)} ${dir(w.path)} && { [ -e ${w.backup} ] || [ ! -e ${w.path} ] || cp -p ${w.path} ${w.backup}; } && cat > ${tmp} && { [ "$(sha256sum < ${tmp} | cut -c1-64)" = ${after} ] || { rm -f ${tmp}; echo ${`the content received for ${w.path} does not match sha256 ${after}; nothing was replaced`} >&2; exit 1; }; } && mv -f ${tmp} ${w.path}`,
    check: sh(
      `${w.path} already written?`,
    )`[ "$(sha256sum < ${w.path} 2>/dev/null | cut -c1-64)" = ${after} ]`,
    stdinContent: w.content,
    timeoutMs: w.timeoutMs,
  };
}

/** The one-line summary of the keys a write sets (at most 8 named), for descriptions. */
export function keysSummary(keys: readonly string[]): string {
  if (keys.length === 0) return 'content';
  const shown = keys.slice(0, 8).join(', ');
  return `keys ${shown}${keys.length > 8 ? ` and ${keys.length - 8} more` : ''}`;
}

const PRE = /^pre=([0-9a-f]{64}|absent|none);/;

/** The precondition a journaled write was planned with, when it may have run; else undefined. */
export function journaledPrecondition(journal: Plan | undefined, id: string): string | undefined {
  const step = journal?.steps?.find((s) => s.id === id);
  if (!step || (step.state !== 'Running' && step.state !== 'Succeeded')) return undefined;
  return PRE.exec(step.command ?? '')?.[1];
}
