/**
 * Checks shared by every runbook, written to the engine's contract (outcome.ts): exit 0 done,
 * 1 not done, anything else unknown. `cmp` alone exits 2 for a missing file, which would read as
 * unknown; a file that does not exist yet is plainly "not written".
 */
import { sh } from '../ssh/command.js';
import type { ShellCommand } from '../ssh/types.js';

/** 0: `path` holds exactly `text`; 1: it is missing or differs; 2: it cannot be read. */
export function fileHasContent(path: string, text: string, purpose: string): ShellCommand {
  return sh(purpose)`test -e ${path} || exit 1; printf '%s' ${text} | cmp -s - ${path}`;
}
