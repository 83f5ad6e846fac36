/**
 * The contract between everything that needs a remote shell (facts collectors, the runbook
 * engine, controllers) and the SSH layer. Callers never build shell strings by hand: they pass
 * a `ShellCommand` produced by the safe builder in `./command.ts`.
 */

/** Where a command runs. `name` is what humans see in errors, status and events. */
export interface HostTarget {
  /** Stable identity used for pooling and host-key pinning: usually the address. */
  name: string;
  address: string;
  port: number;
  user: string;
  /**
   * `node`: reached through the firstbox's own ssh, never connected to directly (see
   * src/controllers/platform.ts). Unset: a host the SSH layer connects to itself.
   */
  role?: 'node';
}

/** A command line that has already been validated and quoted for a POSIX shell. */
export interface ShellCommand {
  /** The exact text sent to the remote shell. */
  readonly script: string;
  /** What the command is for, in words an operator understands ("collect node facts"). */
  readonly purpose: string;
}

export interface ExecOptions {
  /** Kill the command (close the channel) after this long. */
  timeoutMs?: number;
  /** Aborts connect or command; the result then reports `cancelled`. */
  signal?: AbortSignal;
  /** Strings that must never appear in captured output (passwords, tokens). */
  secrets?: readonly string[];
  /** Data written to the command's stdin, then stdin is closed. */
  stdin?: string;
  /**
   * `head` for output that is parsed: stdout is kept from its start up to a larger cap (a parser
   * needs the framing and the first sections), and `truncated` then says whether stdout was cut.
   * Default `tail` (what explains a failure).
   */
  output?: 'tail' | 'head';
}

export interface ExecResult {
  host: string;
  purpose: string;
  /** Exit code, or null when the command was ended by a signal or never reported one. */
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  /** Captured output; when over the cap, the tail (or, with `output: 'head'`, the head) is kept and `truncated` is set. */
  stdout: string;
  stderr: string;
  truncated: boolean;
  /** Set when ExecOptions.signal aborted the command after it was sent (it was signalled and its channel closed). */
  cancelled?: boolean;
}

/** Anything that can run a command on a host: the SSH pool, or a fake in unit tests. */
export interface Executor {
  exec(target: HostTarget, command: ShellCommand, options?: ExecOptions): Promise<ExecResult>;
}
