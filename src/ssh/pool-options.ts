/** Options, defaults and the remote-kill wrapper of SshPool (split out to keep pool.ts to its logic). */
import type { SshCredentials } from './credentials.js';
import type { SshFailureReason } from './errors.js';
import type { HostKeyPolicy } from './hostkeys.js';
import type { HostTarget } from './types.js';

/** Metrics hooks, so the runtime can count without this module depending on prom-client. */
export interface SshObserver {
  onConnect?(host: string, durationMs: number): void;
  /** A connection reported by onConnect closed (idle, evicted, dropped or the pool closed). */
  onDisconnect?(host: string): void;
  onFailure?(host: string, reason: SshFailureReason): void;
  onCommand?(host: string, purpose: string, durationMs: number, exitCode: number | null): void;
}

export interface SshPoolOptions {
  hostKeys: HostKeyPolicy;
  /** Credentials for a host: one set for all, or chosen per host (NodePool's nodeCredentialsSecretRef). */
  credentials: SshCredentials | ((target: HostTarget) => SshCredentials | Promise<SshCredentials>);
  /** Concurrent channels per connection; the rest queue. Default 8 (OpenSSH MaxSessions is 10). */
  maxChannelsPerConnection?: number;
  /** Open connections overall. Default 256. Idle connections are closed to make room. */
  maxConnections?: number;
  /** Handshakes in flight per address:port. Default 4 (OpenSSH MaxStartups refuses from 10). */
  maxHandshakesPerHost?: number;
  /** Handshake timeout (ssh2 readyTimeout). Default 15 s. */
  connectTimeoutMs?: number;
  /** Default command timeout when ExecOptions.timeoutMs is not given. Default 10 min. */
  commandTimeoutMs?: number;
  /** How long a session request may go unanswered. Default 15 s. */
  channelOpenTimeoutMs?: number;
  /** Close a connection after this long without commands. Default 60 s. */
  idleTimeoutMs?: number;
  /** SSH keepalive interval; a dead peer is dropped after interval × countMax. Default 10 s × 3. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Attempts for connection-level failures before the command was sent. Default 4. */
  connectAttempts?: number;
  retryBaseMs?: number;
  /** Bytes of stdout and of stderr kept per command (the tail). Default 256 KiB. */
  outputCapBytes?: number;
  /** Bytes of stdout kept (the head) for a command whose output is parsed (`output: 'head'`). Default 16 MiB. */
  parsedOutputCapBytes?: number;
  observer?: SshObserver;
  /**
   * On timeout, cancel or a dropped connection, kill the command's whole remote process group
   * (see `killableScript`). Off by default because it wraps the script, which changes the text
   * the remote side sees (e.g. SSH_ORIGINAL_COMMAND under a ForceCommand). Commands given
   * `stdin` run unwrapped.
   */
  killRemoteTree?: boolean;
}

export interface SshPoolStats {
  connections: number;
  handshakes: number;
  commands: number;
  channelsInUse: number;
  channelsQueued: number;
}

export const DEFAULTS = {
  maxChannelsPerConnection: 8,
  maxConnections: 256,
  maxHandshakesPerHost: 4,
  connectTimeoutMs: 15_000,
  commandTimeoutMs: 600_000,
  channelOpenTimeoutMs: 15_000,
  idleTimeoutMs: 60_000,
  keepaliveIntervalMs: 10_000,
  keepaliveCountMax: 3,
  connectAttempts: 4,
  retryBaseMs: 200,
  outputCapBytes: 256 * 1024,
  parsedOutputCapBytes: 16 * 1024 * 1024,
  killRemoteTree: false,
};

/**
 * Wraps a script so closing the channel kills its whole remote process group. SSH "signal"
 * requests cannot do it: OpenSSH refuses them for root logins ("session signalling requires
 * privilege separation"), and a pty-less session survives its channel. So stdin is kept open as a
 * lifeline: a watchdog reads it, and when the channel closes (timeout, cancel, dropped
 * connection) it gets EOF and kills the group. The body runs in a subshell with stdin from
 * /dev/null, so `exit N` still reports N; on normal completion the watchdog is stopped.
 */
export function killableScript(script: string): string {
  return [
    'exec 3<&0 </dev/null',
    '( while read -r _; do :; done; kill -KILL 0 ) <&3 >/dev/null 2>&1 &',
    'w=$!',
    'exec 3<&-',
    `( ${script}`,
    ')',
    's=$?',
    'kill $w 2>/dev/null',
    'exit $s',
  ].join('\n');
}
