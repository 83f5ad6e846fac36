/**
 * Parsers see what they need: a command whose output is parsed runs with `output: 'head'` (its
 * stdout kept from the start, up to the pool's parsed-output cap, 16 MiB by default) and its
 * result goes through `completeOutput`, which refuses a cut output instead of parsing it as if
 * it were complete (a region-wide `describe-nodes` that lost sections would look like fewer nodes).
 */
import type { ExecResult } from '../ssh/types.js';
import { FactsParseError } from './errors.js';

/** ExecOptions for a command whose stdout is parsed. */
export const PARSED_OUTPUT = { output: 'head' } as const;

/** The stdout of `res`, or a FactsParseError naming `what` when it was cut. */
export function completeOutput(res: ExecResult, what: string): string {
  if (res.truncated)
    throw new FactsParseError(
      what,
      `the output of "${res.purpose}" on ${res.host} was larger than the capture limit and was cut; it is not parsed as if complete ` +
        '(raise parsedOutputCapBytes of the SSH pool, or narrow what the command lists)',
    );
  return res.stdout;
}
