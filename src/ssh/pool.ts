/**
 * The SSH executor: one connection per host reused for many commands, bounded everywhere
 * OpenSSH or this machine has a limit (channels per connection < MaxSessions 10, handshakes per
 * host < MaxStartups 10, connections overall), with timeouts at every step and retries only
 * where nothing can have run.
 */
import {
  type Channel,
  type Connection as Conn,
  Connection,
  type EarlyEvents,
  NotSentError,
} from './connection.js';
import {
  CancelledError,
  ChannelError,
  CommandMayHaveRunError,
  CommandTimeoutError,
  ConnectError,
  SshError,
} from './errors.js';
import type { HostKeyPolicy, RepinRecord } from './hostkeys.js';
import { backoffMs, delay, Semaphore } from './limits.js';
import { OutputBuffer } from './output.js';
import { DEFAULTS, killableScript, type SshPoolOptions, type SshPoolStats } from './pool-options.js';

export { killableScript, type SshObserver, type SshPoolOptions, type SshPoolStats } from './pool-options.js';

import type { ExecOptions, ExecResult, Executor, HostTarget, ShellCommand } from './types.js';

export class SshPool implements Executor {
  private readonly o: typeof DEFAULTS & SshPoolOptions;
  private readonly conns = new Map<string, Promise<Conn>>();
  private readonly live = new Set<Conn>();
  private readonly connectionSlots: Semaphore;
  private readonly handshakeSlots = new Map<string, Semaphore>();
  private readonly closing = new AbortController();
  private handshakes = 0;
  private commands = 0;

  constructor(options: SshPoolOptions) {
    this.o = { ...DEFAULTS, ...stripUndefined(options) };
    if (this.o.maxChannelsPerConnection > 9) {
      throw new Error('maxChannelsPerConnection must stay below OpenSSH MaxSessions (10)');
    }
    this.connectionSlots = new Semaphore(this.o.maxConnections);
  }

  get hostKeys(): HostKeyPolicy {
    return this.o.hostKeys;
  }

  stats(): SshPoolStats {
    let inUse = 0;
    let queued = 0;
    for (const c of this.live) {
      inUse += c.channels.inUse;
      queued += c.channels.waiting;
    }
    return {
      connections: this.live.size,
      handshakes: this.handshakes,
      commands: this.commands,
      channelsInUse: inUse,
      channelsQueued: queued,
    };
  }

  /**
   * Accepts a new host key for exactly one host (a deliberate VM rebuild), and drops any
   * connection to it so the next command verifies the new key.
   */
  repin(host: string, newFingerprint: string, reason: string): RepinRecord {
    const record = this.o.hostKeys.repin(host, newFingerprint, reason);
    for (const c of this.live) if (c.target.name === host) c.end();
    return record;
  }

  async exec(target: HostTarget, command: ShellCommand, options: ExecOptions = {}): Promise<ExecResult> {
    const { purpose } = command;
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.closing.signal])
      : this.closing.signal;
    try {
      for (let attempt = 0; ; attempt++) {
        if (signal.aborted) throw this.cancelled(target, purpose);
        let conn: Conn;
        try {
          conn = await this.connection(target, purpose, signal);
        } catch (err) {
          if (signal.aborted) throw this.cancelled(target, purpose);
          if (err instanceof ConnectError && attempt + 1 < this.o.connectAttempts) {
            this.o.observer?.onFailure?.(target.name, 'connect');
            await delay(backoffMs(attempt, this.o.retryBaseMs), signal).catch(() => {});
            continue;
          }
          throw err;
        }
        try {
          return await this.run(conn, target, command, options, signal);
        } catch (err) {
          if (!(err instanceof NotSentError)) throw err;
          if (err.dropConnection) conn.end();
          if (attempt + 1 >= this.o.connectAttempts) {
            throw new ChannelError(
              `could not start the command: ${(err.cause as Error)?.message ?? err.cause}`,
              {
                host: target.name,
                purpose,
                remedy: 'nothing ran; check sshd on the host (MaxSessions, load) and retry',
                cause: err.cause,
              },
            );
          }
          await delay(backoffMs(attempt, this.o.retryBaseMs), signal).catch(() => {});
        }
      }
    } catch (err) {
      if (err instanceof SshError) this.o.observer?.onFailure?.(target.name, err.reason);
      throw err;
    }
  }

  /** Ends every connection; queued and running commands fail. */
  async close(): Promise<void> {
    this.closing.abort(new Error('SSH pool closed'));
    const all = [...this.live];
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((resolve) => {
            c.onClose(resolve);
            c.end();
            setTimeout(resolve, 1000).unref();
          }),
      ),
    );
  }

  private cancelled(target: HostTarget, purpose: string): CancelledError {
    return new CancelledError('cancelled before the command was sent', {
      host: target.name,
      purpose,
      remedy: 'nothing ran on the host',
    });
  }

  private connection(target: HostTarget, purpose: string, signal: AbortSignal): Promise<Conn> {
    const key = `${target.user}@${target.address}:${target.port}#${target.name}`;
    let p = this.conns.get(key);
    if (!p) {
      p = this.connect(key, target, purpose);
      this.conns.set(key, p);
      // A failed or closed connection must not be handed out again.
      p.then(
        (c) => c.onClose(() => this.conns.get(key) === p && this.conns.delete(key)),
        () => this.conns.get(key) === p && this.conns.delete(key),
      );
    }
    // Waiting callers detach on abort; the handshake continues for the others sharing it.
    return raceAbort(p, signal);
  }

  private async connect(key: string, target: HostTarget, purpose: string): Promise<Conn> {
    const creds =
      typeof this.o.credentials === 'function' ? await this.o.credentials(target) : this.o.credentials;
    if (this.connectionSlots.inUse >= this.o.maxConnections) this.evictIdle();
    const releaseSlot = await this.connectionSlots.acquire(this.closing.signal);
    const hk = `${target.address}:${target.port}`;
    let hs = this.handshakeSlots.get(hk);
    if (!hs) {
      hs = new Semaphore(this.o.maxHandshakesPerHost);
      this.handshakeSlots.set(hk, hs);
    }
    let releaseHandshake: () => void;
    try {
      releaseHandshake = await hs.acquire(this.closing.signal);
    } catch (err) {
      releaseSlot();
      throw err;
    }
    const conn = new Connection(key, target, this.o.maxChannelsPerConnection);
    conn.secrets = creds.secretValues();
    conn.onClose(() => {
      releaseSlot();
      this.live.delete(conn);
    });
    const started = performance.now();
    this.handshakes++;
    try {
      await conn.open(this.o.hostKeys, {
        readyTimeoutMs: this.o.connectTimeoutMs,
        keepaliveIntervalMs: this.o.keepaliveIntervalMs,
        keepaliveCountMax: this.o.keepaliveCountMax,
        maxChannels: this.o.maxChannelsPerConnection,
        auth: creds.authConfig(),
        username: creds.username ?? target.user,
        credentialsSecret: creds.secret,
        authMethod: creds.method,
        purpose,
      });
    } finally {
      releaseHandshake();
    }
    if (conn.closed)
      throw new ConnectError('connection closed right after the handshake', {
        host: target.name,
        purpose,
        remedy: `check sshd on ${target.address}:${target.port}`,
      });
    this.live.add(conn);
    this.o.observer?.onConnect?.(target.name, performance.now() - started);
    conn.onClose(() => this.o.observer?.onDisconnect?.(target.name));
    conn.scheduleIdleClose(this.o.idleTimeoutMs);
    return conn;
  }

  /** Makes room under the global bound by closing the least recently used idle connection. */
  private evictIdle(): void {
    let lru: Conn | undefined;
    for (const c of this.live) if (c.inFlight.size === 0 && (!lru || c.lastUsed < lru.lastUsed)) lru = c;
    lru?.end();
  }

  private async run(
    conn: Conn,
    target: HostTarget,
    command: ShellCommand,
    options: ExecOptions,
    signal: AbortSignal,
  ): Promise<ExecResult> {
    const { purpose } = command;
    // The lifeline needs stdin, so commands that feed stdin run unwrapped.
    const wrapped = this.o.killRemoteTree && options.stdin === undefined;
    const script = wrapped ? killableScript(command.script) : command.script;
    const release = await conn.channels.acquire(signal).catch(() => {
      throw this.cancelled(target, purpose);
    });
    const f = { script, sent: false, onDrop: (_: Error) => {} };
    conn.inFlight.add(f);
    conn.touch();
    try {
      let opened: { channel: Channel; early: EarlyEvents };
      try {
        opened = await conn.exec(f, this.o.channelOpenTimeoutMs);
      } catch (err) {
        if (err instanceof NotSentError) throw err;
        throw new CommandMayHaveRunError({ host: target.name, purpose, cause: err });
      }
      this.commands++;
      return await this.collect(
        conn,
        opened.channel,
        opened.early,
        f,
        target,
        command,
        options,
        signal,
        wrapped,
      );
    } finally {
      conn.inFlight.delete(f);
      release();
      conn.lastUsed = Date.now();
      conn.scheduleIdleClose(this.o.idleTimeoutMs);
    }
  }

  private collect(
    conn: Conn,
    channel: Channel,
    early: EarlyEvents,
    f: { onDrop: (e: Error) => void },
    target: HostTarget,
    command: ShellCommand,
    options: ExecOptions,
    signal: AbortSignal,
    wrapped: boolean,
  ): Promise<ExecResult> {
    const { purpose } = command;
    const started = performance.now();
    const secrets = [...(options.secrets ?? []), ...conn.secrets];
    const slack = Math.max(1024, ...secrets.map((s) => Buffer.byteLength(s)));
    // Parsed output keeps its head (output.ts); stderr always keeps its tail.
    const head = options.output === 'head';
    const out = head
      ? new OutputBuffer(this.o.parsedOutputCapBytes, slack, 'head')
      : new OutputBuffer(this.o.outputCapBytes, slack);
    const err = new OutputBuffer(this.o.outputCapBytes, slack);
    const timeoutMs = options.timeoutMs ?? this.o.commandTimeoutMs;
    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let ending: 'timeout' | 'cancelled' | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        fn();
      };
      const result = (): ExecResult => ({
        host: target.name,
        purpose,
        exitCode: early.exit?.code ?? null,
        signal: early.exit?.signal ?? null,
        durationMs: Math.round(performance.now() - started),
        stdout: out.text(secrets),
        stderr: err.text(secrets),
        truncated: head ? out.truncated : out.truncated || err.truncated,
        ...(ending === 'cancelled' ? { cancelled: true } : {}),
      });
      // Closing the channel alone leaves a pty-less process running. The signal request helps on
      // servers that honour it; OpenSSH refuses it for root logins, which is what killRemoteTree is for.
      const stop = () => {
        try {
          channel.signal('KILL');
        } catch {
          // older servers ignore signal requests; the close below still frees the channel
        }
        channel.close();
      };
      const timer = setTimeout(() => {
        ending = 'timeout';
        stop();
        const r = result();
        finish(() =>
          reject(
            new CommandTimeoutError({
              host: target.name,
              purpose,
              timeoutMs,
              stdout: r.stdout,
              stderr: r.stderr,
            }),
          ),
        );
      }, timeoutMs);
      const onAbort = () => {
        ending = 'cancelled';
        stop();
        finish(() => resolve(result()));
      };
      // An abort during the channel open already fired; the command was sent, so stop it now.
      if (signal.aborted) setImmediate(onAbort);
      else signal.addEventListener('abort', onAbort, { once: true });
      f.onDrop = (cause) =>
        finish(() => reject(new CommandMayHaveRunError({ host: target.name, purpose, cause })));
      channel.on('data', (d: Buffer) => out.push(d));
      channel.stderr.on('data', (d: Buffer) => err.push(d));
      const onClose = () => {
        if (!early.exit) {
          // No exit status: the session ended under the command. We cannot know how far it got.
          finish(() =>
            reject(
              new CommandMayHaveRunError({
                host: target.name,
                purpose,
                cause: new Error('the session closed without an exit status'),
              }),
            ),
          );
          return;
        }
        const r = result();
        this.o.observer?.onCommand?.(target.name, purpose, r.durationMs, r.exitCode);
        finish(() => resolve(r));
      };
      // The connection's own 'exit' listener ran first (registered earlier), so early.exit is set.
      if (early.closed) setImmediate(onClose);
      else channel.on('close', onClose);
      if (options.stdin !== undefined) channel.end(options.stdin);
      else if (!wrapped) channel.end();
    });
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
