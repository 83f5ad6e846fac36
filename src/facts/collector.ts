/**
 * The only effectful part of facts: run the batched probe over an Executor and parse the result.
 * Connection errors come from the SSH layer as they are (they already name host and purpose);
 * output we cannot use becomes a FactsCollectionError naming the host.
 */
import type { ExecResult, Executor, HostTarget, ShellCommand } from '../ssh/types.js';
import { excerpt, FactsCollectionError, FactsParseError } from './errors.js';
import { FIRSTBOX_COMMAND, parseFirstboxOutput } from './firstbox.js';
import { PROBE_COMMAND, parseProbeOutput } from './probe.js';
import type { FirstboxFacts, NodeFacts } from './types.js';

export interface CollectOptions {
  /** Bound on the whole probe (it is one command). Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Clock for `collectedAt`; tests pin it. */
  now?: () => Date;
}

const DEFAULT_TIMEOUT_MS = 60_000;

async function run<T>(
  executor: Executor,
  target: HostTarget,
  command: ShellCommand,
  parse: (stdout: string, opts: { collectedAt: string }) => T,
  options: CollectOptions,
): Promise<T> {
  const result: ExecResult = await executor.exec(target, command, {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    // Parsed: keep the head, where the framing starts (complete.ts).
    output: 'head',
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const stderr = result.stderr.trim() ? `; stderr: ${excerpt(result.stderr.slice(-400), 200)}` : '';
  if (result.exitCode === null) {
    throw new FactsCollectionError(
      target.name,
      `${command.purpose} was ended by ${result.signal ?? 'an unknown cause'} before it finished${stderr}`,
    );
  }
  // A cut output is never parsed as if complete.
  if (result.truncated) {
    throw new FactsCollectionError(
      target.name,
      `${command.purpose} printed more than the capture limit${stderr}`,
    );
  }
  const collectedAt = (options.now?.() ?? new Date()).toISOString();
  try {
    return parse(result.stdout, { collectedAt });
  } catch (err) {
    if (err instanceof FactsParseError) {
      throw new FactsCollectionError(target.name, `${err.message} (exit code ${result.exitCode})${stderr}`, {
        cause: err,
      });
    }
    throw err;
  }
}

/** One exec: the node probe. */
export function collectNodeFacts(
  executor: Executor,
  target: HostTarget,
  options: CollectOptions = {},
): Promise<NodeFacts> {
  return run(executor, target, PROBE_COMMAND, parseProbeOutput, options);
}

/** One exec: installer version, node list and zone list. */
export function collectFirstboxFacts(
  executor: Executor,
  target: HostTarget,
  options: CollectOptions = {},
): Promise<FirstboxFacts> {
  return run(executor, target, FIRSTBOX_COMMAND, parseFirstboxOutput, options);
}

export type CollectOutcome<T> =
  | { target: HostTarget; ok: true; value: T }
  | { target: HostTarget; ok: false; error: Error };

export interface CollectManyOptions extends CollectOptions {
  /** Targets in flight at once. Default 16; the SSH pool applies its own global bound too. */
  concurrency?: number;
}

/**
 * Collects from every target with bounded concurrency; one failure never stops the others.
 * Outcomes are in the order of `targets`. After `signal` aborts, targets not yet started fail
 * at once instead of opening connections.
 */
export async function collectMany<T = NodeFacts>(
  executor: Executor,
  targets: readonly HostTarget[],
  options: CollectManyOptions = {},
  collect: (
    executor: Executor,
    target: HostTarget,
    options: CollectOptions,
  ) => Promise<T> = collectNodeFacts as (
    executor: Executor,
    target: HostTarget,
    options: CollectOptions,
  ) => Promise<T>,
): Promise<CollectOutcome<T>[]> {
  const { concurrency = 16, ...perTarget } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const outcomes = new Array<CollectOutcome<T>>(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      const target = targets[i]!;
      if (perTarget.signal?.aborted) {
        outcomes[i] = {
          target,
          ok: false,
          error: new FactsCollectionError(target.name, 'cancelled before it started'),
        };
        continue;
      }
      try {
        outcomes[i] = { target, ok: true, value: await collect(executor, target, perTarget) };
      } catch (err) {
        outcomes[i] = { target, ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  return outcomes;
}
