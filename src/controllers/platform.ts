/**
 * How controllers reach a zone: one SSH pool per zone, built from the Zone's credentials Secret and
 * host-key policy, kept while that configuration is unchanged (so connections are reused across
 * reconciles) and replaced when it changes.
 *
 * Trust boundary (issue 12): the operator connects to, and authenticates to, the firstbox alone.
 * The pool refuses to offer the zone's credentials to any other endpoint, and the firstbox's pin is
 * stored under its endpoint (address and port), so nothing a NodePool names can read or replace it.
 * Nodes are reached through the firstbox's own `ssh` (its keys, its known_hosts, strict checking:
 * src/ssh/relay.ts); their host keys are whatever the firstbox's known_hosts holds for (address, port).
 */
import { createHash } from 'node:crypto';
import type { Zone } from '../api/zone.js';
import type { KubeClient } from '../runtime/kube.js';
import { shell, validated } from '../ssh/command.js';
import { credentialsFromSecret, type SshCredentials } from '../ssh/credentials.js';
import { ConnectError } from '../ssh/errors.js';
import { HostKeyPolicy, knownHostsName, parseKnownHosts, pinKey } from '../ssh/hostkeys.js';
import { type SshObserver, SshPool } from '../ssh/pool.js';
import { relayFailure, throughFirstbox } from '../ssh/relay.js';
import type { ExecOptions, ExecResult, Executor, HostTarget, ShellCommand } from '../ssh/types.js';
import { CREDENTIALS_LABEL, CREDENTIALS_LABEL_VALUE, consentedData } from './consent.js';

export interface PlatformOptions {
  maxConnectionsPerZone?: number;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  observer?: SshObserver;
}

export class SecretMissingError extends Error {
  override name = 'SecretMissingError';
}

export interface ZoneAccess {
  /** Runs commands on the firstbox directly and on node targets (from `node()`) through the firstbox. */
  pool: ZoneExecutor;
  firstbox: HostTarget;
  credentials: SshCredentials;
  /** Target for a node: reached through the firstbox's ssh as `user` (default root), never directly. */
  node(address: string, port?: number, user?: string): HostTarget;
  /**
   * The fingerprint of the host key the firstbox's known_hosts holds for the node's (address, port)
   * (undefined: it holds none, so the firstbox would refuse the node). Read-only, for status.
   */
  learnNodeHostKey(address: string, port: number): Promise<string | undefined>;
}

/** Same endpoint and identity as the firstbox target: the only host the pool may connect to. */
function isFirstbox(fb: HostTarget, t: HostTarget): boolean {
  return t.role !== 'node' && t.name === fb.name && t.address === fb.address && t.port === fb.port;
}

/**
 * The zone's executor: the firstbox directly, a node through the firstbox, anything else refused
 * before a connection is opened (fail closed: a target nobody built with `node()` is a bug).
 */
export class ZoneExecutor implements Executor {
  constructor(
    readonly ssh: SshPool,
    private readonly firstbox: HostTarget,
  ) {}

  async exec(target: HostTarget, command: ShellCommand, options: ExecOptions = {}): Promise<ExecResult> {
    if (isFirstbox(this.firstbox, target)) return this.ssh.exec(target, command, options);
    if (target.role !== 'node') {
      throw new ConnectError(`not the firstbox (${this.firstbox.address}:${this.firstbox.port})`, {
        host: target.name,
        purpose: command.purpose,
        remedy:
          'the operator connects only to the firstbox; nodes are reached through it (report this as a bug)',
      });
    }
    const relayed = throughFirstbox(target, command);
    const r = await this.ssh.exec(this.firstbox, relayed, options);
    const failure = relayFailure(target, command.purpose, r);
    if (failure) throw failure;
    return { ...r, host: target.name, purpose: command.purpose };
  }

  close(): Promise<void> {
    return this.ssh.close();
  }
}

interface Entry {
  fingerprint: string;
  access: ZoneAccess;
}

export class Platform {
  private readonly zones = new Map<string, Entry>();
  /** Firstbox keys recorded under TrustOnFirstUse, by Zone uid: never dropped while running. */
  private readonly tofuRecorded = new Map<string, string>();

  constructor(
    private readonly client: KubeClient,
    private readonly opts: PlatformOptions = {},
  ) {}

  /**
   * Reads a Secret's data, only with its owner's consent (the `ops.pitrix.io/credentials: "true"`
   * label, consent.ts); throws SecretMissingError or SecretNotConsentedError naming it and the fix.
   */
  async secret(namespace: string, name: string): Promise<Record<string, string>> {
    const secret = await this.client.readSecret(namespace, name);
    if (!secret) {
      throw new SecretMissingError(
        `Secret ${namespace}/${name} not found; create it (kubectl create secret generic ${name} -n ${namespace} --from-file=ssh-privatekey=KEYFILE) ` +
          `and label it for the operator (kubectl label secret ${name} -n ${namespace} ${CREDENTIALS_LABEL}=${CREDENTIALS_LABEL_VALUE})`,
      );
    }
    return consentedData(namespace, name, secret);
  }

  async forZone(zone: Zone, onTrustOnFirstUse?: (fingerprint: string) => void): Promise<ZoneAccess> {
    const ns = zone.metadata.namespace ?? 'default';
    const fb = zone.spec.firstbox;
    const secretData = await this.secret(ns, fb.credentialsSecretRef.name);
    const knownHostsRef = fb.knownHostsSecretRef;
    const knownHosts = knownHostsRef
      ? decode((await this.secret(ns, knownHostsRef.name))[knownHostsRef.key ?? 'known_hosts'])
      : undefined;
    if (knownHostsRef && knownHosts === undefined) {
      throw new SecretMissingError(
        `Secret ${ns}/${knownHostsRef.name} has no key "${knownHostsRef.key ?? 'known_hosts'}"`,
      );
    }
    // TrustOnFirstUse arms once per Zone: a key recorded (in status, or by this process before its
    // status write landed) stays pinned even if status loses it or the host changes.
    const recorded =
      this.tofuRecorded.get(zone.metadata.uid ?? key0(zone)) ??
      (zone.status as { firstboxHostKey?: string } | undefined)?.firstboxHostKey;
    if (recorded) this.tofuRecorded.set(zone.metadata.uid ?? key0(zone), recorded);
    const pins = fb.hostKeys?.length
      ? fb.hostKeys
      : fb.hostKeyPolicy === 'TrustOnFirstUse' && recorded
        ? [recorded]
        : [];
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([zone.metadata.uid, fb, pins, knownHosts ?? '', secretData]))
      .digest('hex');
    const key = `${ns}/${zone.metadata.name}`;
    const cached = this.zones.get(key);
    if (cached?.fingerprint === fingerprint) return cached.access;
    if (cached) void cached.access.pool.close();

    const credentials = credentialsFromSecret({
      metadata: { namespace: ns, name: fb.credentialsSecretRef.name },
      data: secretData,
    });
    const firstbox: HostTarget = {
      name: validated('HOST', fb.host, 'spec.firstbox.host'),
      address: fb.host,
      port: fb.port,
      user: credentials.username ?? fb.user,
    };
    // Keyed by endpoint: a target on the same address but another port has no pin here (and, being
    // no firstbox, is never connected to anyway).
    const policy = new HostKeyPolicy({
      endpoints: pins.length ? { [pinKey(firstbox)]: pins } : {},
      knownHosts,
      trustOnFirstUse: fb.hostKeyPolicy === 'TrustOnFirstUse',
      onRecord: (_host, fp, how, endpoint) => {
        if (how === 'trust-on-first-use' && endpoint && pinKey(endpoint) === pinKey(firstbox)) {
          this.tofuRecorded.set(zone.metadata.uid ?? key0(zone), fp);
          onTrustOnFirstUse?.(fp);
        }
      },
    });
    const ssh = new SshPool({
      hostKeys: policy,
      // The zone's credentials go to the firstbox endpoint and nowhere else.
      credentials: (target) => {
        if (isFirstbox(firstbox, target)) return credentials;
        throw new ConnectError('refusing to offer the firstbox credentials to another host', {
          host: target.name,
          purpose: 'authenticate',
          remedy: `only ${firstbox.address}:${firstbox.port} receives them; nodes are reached through the firstbox`,
        });
      },
      maxConnections: this.opts.maxConnectionsPerZone ?? 32,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      commandTimeoutMs: this.opts.commandTimeoutMs,
      observer: this.opts.observer,
    });
    const pool = new ZoneExecutor(ssh, firstbox);
    const access: ZoneAccess = {
      pool,
      firstbox,
      credentials,
      node: (address, port = 22, user = 'root') => ({
        name: validated('HOST', address, 'node address'),
        address,
        port,
        user,
        role: 'node',
      }),
      learnNodeHostKey: async (address, port) => {
        const name = knownHostsName(validated('HOST', address, 'node address'), port);
        // ssh-keygen -F prints the known_hosts lines that match (hashed ones too); exit 1: none.
        const r = await ssh.exec(
          firstbox,
          shell(['ssh-keygen', '-F', name], 'read node host key from known_hosts'),
          {
            timeoutMs: 20_000,
          },
        );
        const entries = parseKnownHosts(r.stdout).filter((e) => e.marker === undefined);
        const best = entries.find((e) => e.keyType === 'ssh-ed25519') ?? entries[0];
        return best?.fingerprint;
      },
    };
    this.zones.set(key, { fingerprint, access });
    return access;
  }

  forget(namespace: string, name: string): void {
    const e = this.zones.get(`${namespace}/${name}`);
    if (e) void e.access.pool.close();
    this.zones.delete(`${namespace}/${name}`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.zones.values()].map((e) => e.access.pool.close()));
    this.zones.clear();
  }
}

const key0 = (zone: Zone) => `${zone.metadata.namespace ?? 'default'}/${zone.metadata.name}`;

function decode(v: string | undefined): string | undefined {
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

export type { Executor };
