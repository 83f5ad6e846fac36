/**
 * One ssh2 connection to one host, shared by many commands. It knows, for every command, whether
 * the exec request has left this process: that is the line between "safe to retry on a new
 * connection" and "may have run on the host".
 */
import ssh2 from 'ssh2';
import { AuthError, ConnectError, HostKeyMismatchError, type SshError } from './errors.js';
import type { HostKeyPolicy } from './hostkeys.js';
import { Semaphore } from './limits.js';
import type { HostTarget } from './types.js';

// ssh2 is CommonJS; `Client` is one of the names Node exposes to ESM, but the default keeps one style.
const { Client } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;
export type Channel = Parameters<Parameters<Ssh2Client['exec']>[1]>[1];

/**
 * Key exchange, fastest safe first. No Diffie-Hellman group exchange: a GEX handshake costs
 * seconds of CPU and about 200 in parallel saturate a core.
 */
export const KEX_ALGORITHMS = [
  'curve25519-sha256',
  'curve25519-sha256@libssh.org',
  'ecdh-sha2-nistp256',
  'ecdh-sha2-nistp384',
  'ecdh-sha2-nistp521',
  'diffie-hellman-group14-sha256',
];

export interface ConnectionSettings {
  readyTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  maxChannels: number;
  auth: { privateKey?: string; passphrase?: string; password?: string };
  username: string;
  credentialsSecret: string | undefined;
  authMethod: string;
  purpose: string;
}

/** Raised (internally) when a command was not sent because the connection was gone. */
export class NotSentError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly dropConnection: boolean,
  ) {
    super('command not sent');
  }
}

/**
 * What a channel reported before its consumer attached listeners: ssh2 can deliver the exec reply,
 * the exit status and the close in one read, and 'exit'/'close' are plain events that would be lost.
 */
export interface EarlyEvents {
  exit: { code: number | null; signal: string | null } | undefined;
  closed: boolean;
}

/** A command waiting for or holding a channel; the connection settles it if it drops. */
export interface InFlight {
  script: string;
  sent: boolean;
  onDrop(err: Error): void;
}

export class Connection {
  readonly client: Ssh2Client = new Client();
  readonly channels: Semaphore;
  closed = false;
  ready = false;
  lastUsed = Date.now();
  /** Credential values to mask in every command's output on this connection. */
  secrets: string[] = [];
  readonly inFlight = new Set<InFlight>();
  private idleTimer: NodeJS.Timeout | undefined;
  private closeListeners: Array<() => void> = [];

  constructor(
    readonly key: string,
    readonly target: HostTarget,
    maxChannels: number,
  ) {
    this.channels = new Semaphore(maxChannels);
  }

  /**
   * Connects and authenticates. Rejects with HostKeyMismatchError (the handshake stopped at the
   * key, before authentication, so nothing ran), AuthError, or ConnectError (safe to retry).
   */
  open(policy: HostKeyPolicy, s: ConnectionSettings): Promise<void> {
    const t = this.target;
    let keyVerdict: ReturnType<HostKeyPolicy['verify']> | undefined;
    const serverHostKey = policy.preferredKeyAlgorithms(t);
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: SshError) => {
        if (settled) return;
        settled = true;
        this.markClosed();
        this.client.end();
        reject(err);
      };
      this.client.once('ready', () => {
        if (settled) return;
        settled = true;
        this.ready = true;
        // Small request/response packets: Nagle plus delayed ACKs would add ~40 ms per command.
        this.client.setNoDelay(true);
        this.trackSentCommands();
        resolve();
      });
      this.client.on('error', (err: Error & { level?: string }) => {
        if (this.ready) return; // after ready, 'close' settles in-flight commands
        const details = { host: t.name, purpose: s.purpose, cause: err };
        if (keyVerdict && !keyVerdict.ok) {
          fail(
            new HostKeyMismatchError({
              ...details,
              expected: keyVerdict.expected,
              presented: keyVerdict.fingerprint + (keyVerdict.revoked ? ' (revoked)' : ''),
            }),
          );
        } else if (err.level === 'client-authentication') {
          fail(
            new AuthError({
              ...details,
              user: s.username,
              method: s.authMethod,
              ...(s.credentialsSecret ? { secret: s.credentialsSecret } : {}),
              remedy: s.credentialsSecret
                ? `check that Secret ${s.credentialsSecret} holds a key or password accepted for ${s.username}@${t.address}`
                : `check the credentials for ${s.username}@${t.address}`,
            }),
          );
        } else {
          fail(connectError(t, s, err));
        }
      });
      this.client.on('close', () => {
        const wasReady = this.ready;
        this.markClosed();
        if (!wasReady) fail(connectError(t, s, new Error('connection closed during the handshake')));
        const drop = new Error(`connection to ${t.address}:${t.port} closed`);
        for (const f of [...this.inFlight]) f.onDrop(drop);
      });
      this.client.on('end', () => this.markClosed());
      this.client.connect({
        host: t.address,
        port: t.port,
        username: s.username,
        ...s.auth,
        readyTimeout: s.readyTimeoutMs,
        keepaliveInterval: s.keepaliveIntervalMs,
        keepaliveCountMax: s.keepaliveCountMax,
        // Without a verifier ssh2 accepts every host key.
        hostVerifier: (key: Buffer) => {
          keyVerdict = policy.verify(t, key);
          return keyVerdict.ok;
        },
        algorithms: { kex: KEX_ALGORITHMS, ...(serverHostKey ? { serverHostKey } : {}) },
      } as ssh2.ConnectConfig);
      // connect() created the socket; set NODELAY now, not at 'ready': the auth exchange's four
      // round trips otherwise wait ~40 ms each for a delayed ACK (~180 ms per handshake).
      this.client.setNoDelay(true);
    });
  }

  /**
   * ssh2 has no event for "the exec request was written". Its Protocol's `exec` is what writes
   * it, so we observe calls to it and mark every in-flight command with that script as sent.
   * (Marking all same-text commands errs on the side of "may have run".) If ssh2's internals
   * ever change, commands count as sent from the moment exec() is called: conservative.
   */
  private trackSentCommands(): void {
    const proto = (this.client as unknown as { _protocol?: { exec?: (...a: unknown[]) => unknown } })
      ._protocol;
    const original = proto?.exec;
    if (!proto || typeof original !== 'function') {
      this.observesSends = false;
      return;
    }
    proto.exec = (...args: unknown[]) => {
      const script = args[1];
      for (const f of this.inFlight) if (f.script === script) f.sent = true;
      return original.apply(proto, args);
    };
  }
  observesSends = true;

  /** Opens an exec channel. Rejects with NotSentError when the command never left. */
  exec(f: InFlight, channelOpenTimeoutMs: number): Promise<{ channel: Channel; early: EarlyEvents }> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new NotSentError(new Error('connection already closed'), true));
      if (!this.observesSends) f.sent = true;
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        // A channel that never opens means a wedged connection: close it for everyone.
        const err = new Error(`no answer to the session request within ${channelOpenTimeoutMs} ms`);
        if (!f.sent) reject(new NotSentError(err, true));
        else reject(err);
        this.client.end();
      }, channelOpenTimeoutMs);
      f.onDrop = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(f.sent ? err : new NotSentError(err, true));
      };
      this.client.exec(f.script, (err, stream) => {
        if (done) {
          stream?.close();
          return;
        }
        done = true;
        clearTimeout(timer);
        if (!err) {
          const early: EarlyEvents = { exit: undefined, closed: false };
          stream.on('exit', (code: number | null, sig?: string) => {
            early.exit = { code: typeof code === 'number' ? code : null, signal: sig ?? null };
          });
          stream.on('close', () => {
            early.closed = true;
          });
          return resolve({ channel: stream, early });
        }
        // A refusal on a live connection (open failure, exec refused) means the command did not run.
        if (this.closed) reject(f.sent ? err : new NotSentError(err, true));
        else reject(new NotSentError(err, false));
      });
    });
  }

  markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    for (const l of this.closeListeners.splice(0)) l();
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  /** Ends the connection after `ms` without commands. */
  scheduleIdleClose(ms: number): void {
    clearTimeout(this.idleTimer);
    if (this.inFlight.size > 0 || this.closed) return;
    this.idleTimer = setTimeout(() => {
      if (this.inFlight.size === 0) this.end();
    }, ms);
    this.idleTimer.unref();
  }

  touch(): void {
    this.lastUsed = Date.now();
    clearTimeout(this.idleTimer);
  }

  end(): void {
    this.markClosed();
    this.client.end();
  }
}

function connectError(t: HostTarget, s: ConnectionSettings, err: Error & { level?: string; code?: string }) {
  const timeout = err.level === 'client-timeout';
  const remedy = timeout
    ? `check that ${t.address}:${t.port} is reachable and sshd is responsive (handshake timeout ${s.readyTimeoutMs} ms)`
    : `check that ${t.address}:${t.port} is reachable and sshd is running there`;
  const what = timeout ? 'SSH handshake timed out' : `cannot connect over SSH: ${err.code ?? err.message}`;
  return new ConnectError(what, { host: t.name, purpose: s.purpose, remedy, cause: err });
}
