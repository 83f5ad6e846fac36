/**
 * Errors of the SSH layer. Each names the host, what the command was for, and what a human should
 * do next, because these messages end up verbatim in resource status, Events and logs.
 */

/** Why an SSH operation failed, as a low-cardinality label for metrics. */
export type SshFailureReason =
  | 'connect'
  | 'auth'
  | 'host-key'
  | 'timeout'
  | 'may-have-run'
  | 'channel'
  | 'cancelled';

export interface SshErrorDetails {
  host: string;
  purpose: string;
  remedy: string;
  cause?: unknown;
}

export abstract class SshError extends Error {
  abstract readonly reason: SshFailureReason;
  readonly host: string;
  readonly purpose: string;
  readonly remedy: string;

  constructor(summary: string, details: SshErrorDetails) {
    super(`${details.host}: ${summary} (while trying to ${details.purpose}); ${details.remedy}`, {
      cause: details.cause,
    });
    this.name = new.target.name;
    this.host = details.host;
    this.purpose = details.purpose;
    this.remedy = details.remedy;
  }
}

/** TCP connect, handshake or transport failure before any command was sent: safe to retry. */
export class ConnectError extends SshError {
  readonly reason = 'connect' as const;
}

/** The server rejected our credentials. */
export class AuthError extends SshError {
  readonly reason = 'auth' as const;
  /** `namespace/name` of the Secret the credentials came from, when known. */
  readonly secret: string | undefined;
  constructor(details: SshErrorDetails & { user: string; secret?: string; method: string }) {
    super(
      `authentication as ${details.user} by ${details.method} was rejected` +
        (details.secret ? ` (credentials from Secret ${details.secret})` : ''),
      details,
    );
    this.secret = details.secret;
  }
}

/** The host presented a key other than the pinned/known one. Nothing was executed. */
export class HostKeyMismatchError extends SshError {
  readonly reason = 'host-key' as const;
  readonly expected: readonly string[];
  readonly presented: string;
  constructor(details: Omit<SshErrorDetails, 'remedy'> & { expected: readonly string[]; presented: string }) {
    super(
      `host key verification failed: expected ${details.expected.length ? details.expected.join(' or ') : '(no key known)'}, ` +
        `presented ${details.presented}; nothing was executed`,
      {
        ...details,
        remedy:
          details.expected.length === 0
            ? 'add the host key fingerprint to the resource (hostKeys) or known_hosts Secret, or opt in to trust-on-first-use'
            : 'if the host was deliberately rebuilt, verify the new key out of band (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the host) ' +
              'and re-pin it for this host only; otherwise treat it as a possible man-in-the-middle',
      },
    );
    this.expected = details.expected;
    this.presented = details.presented;
  }
}

/** The command ran longer than its timeout; the channel was closed. */
export class CommandTimeoutError extends SshError {
  readonly reason = 'timeout' as const;
  readonly timeoutMs: number;
  readonly stdoutTail: string;
  readonly stderrTail: string;
  constructor(
    details: Omit<SshErrorDetails, 'remedy'> & { timeoutMs: number; stdout: string; stderr: string },
  ) {
    super(`command did not finish within ${details.timeoutMs} ms and was stopped`, {
      ...details,
      remedy:
        'the command may have partly run; check its effect on the host, then raise the timeout or fix what hangs before re-running',
    });
    this.timeoutMs = details.timeoutMs;
    this.stdoutTail = details.stdout;
    this.stderrTail = details.stderr;
  }
}

/** The connection dropped after the command was sent: it may or may not have run. Never retried. */
export class CommandMayHaveRunError extends SshError {
  readonly reason = 'may-have-run' as const;
  constructor(details: Omit<SshErrorDetails, 'remedy'>) {
    super('the connection dropped while the command was running', {
      ...details,
      remedy: `the command may have run on ${details.host}; check before re-running`,
    });
  }
}

/** Opening a session channel failed or hung on an otherwise working connection. */
export class ChannelError extends SshError {
  readonly reason = 'channel' as const;
}

/** The caller aborted before the command was sent; nothing ran. */
export class CancelledError extends SshError {
  readonly reason = 'cancelled' as const;
}

/** A value from a resource that fails its safe pattern; raised before any connection is opened. */
export class ValidationError extends Error {
  readonly field: string;
  readonly value: string;
  constructor(field: string, value: string, expected: string, fix: string) {
    super(`${field}: ${JSON.stringify(value)} is not ${expected}; ${fix}`);
    this.name = 'ValidationError';
    this.field = field;
    this.value = value;
  }
}
