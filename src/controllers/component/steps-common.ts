/**
 * Building blocks the R3 sections share (runbook R3, BOSS V2 / cronus / websupervisor): the firstbox
 * host, timeouts, commands run on a role's nodes through exec_nodes.sh with their reachability check,
 * file writes with a one-time backup, and the error a section raises when it cannot be planned.
 */
import type { Plan } from '../../api/common.js';
import type { Step } from '../../runbook/step.js';
import { shell } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { noAnswer, parseExecNodes } from '../execnodes.js';
import { fileWriteStep, keysSummary } from '../filewrite.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;

export const fb = { kind: 'firstbox' } as const;

export class PlanError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export function execNodes(target: string, command: string, purpose: string): ShellCommand {
  return shell(['/pitrix/upgrade/exec_nodes.sh', '-f', target, command], purpose);
}

/** Every node of `nodeIds` answered through exec_nodes.sh (a refused connection is a failure). */
export function verifyReached(nodeIds: readonly string[]) {
  return (stdout: string): string | undefined => {
    const blocks = parseExecNodes(stdout);
    const problems: string[] = [];
    for (const id of nodeIds) {
      const b = blocks.byId.get(id);
      if (!b) problems.push(`${id}: ${noAnswer(blocks, id)}`);
      else if (/ssh: connect to host|Connection refused|No route to host/.test(b.text))
        problems.push(`${id}: ${b.text.trim().split('\n')[0]}`);
    }
    return problems.length ? problems.join('; ') : undefined;
  };
}

/**
 * Writes a file as computed (filewrite.ts: content on stdin, sha256 precondition on what was read),
 * keeping a one-time copy of the original under /pitrix/backup/operator (outside every directory the
 * installer globs). `name`: the step's id, or its id and action (`forSubject`). `before`: the content observed (null: observed absent, so it must still be).
 */
export function writeFileStep(
  name: string | { id: string; action: string },
  description: string,
  path: string,
  text: string,
  before?: string | null,
  keys: readonly string[] = [],
  journal?: Plan,
): Step {
  return fileWriteStep({
    ...(typeof name === 'string' ? { id: name } : name),
    description,
    path,
    content: text,
    before,
    backup: `/pitrix/backup/operator${path}.orig`,
    tmp: `${path}.operator-tmp`,
    summary: `${path}: ${keysSummary(keys)}`,
    journal,
    timeoutMs: MIN,
  });
}
