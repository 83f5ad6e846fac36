/**
 * How controllers reach a zone: one SSH pool per zone, built from the Zone's credentials Secret and
 * host-key policy, kept while that configuration is unchanged (so connections are reused across
 * reconciles) and replaced when it changes. Nodes are reached with the same pool: their host keys are
 * learned through the already trusted firstbox (`ssh-keyscan` run there), then pinned per node.
 */
import { createHash } from 'node:crypto';
import type { Zone } from '../api/zone.js';
import type { KubeClient } from '../runtime/kube.js';
import { shell, validated } from '../ssh/command.js';
import { credentialsFromSecret, type SshCredentials } from '../ssh/credentials.js';
import { HostKeyPolicy, parseKnownHosts } from '../ssh/hostkeys.js';
import { type SshObserver, SshPool } from '../ssh/pool.js';
import type { Executor, HostTarget } from '../ssh/types.js';
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
  pool: SshPool;
  firstbox: HostTarget;
  credentials: SshCredentials;
  /** Target for a node reached directly, with the zone's credentials unless others are given. */
  node(address: string, port?: number, user?: string): HostTarget;
  /** Pins a node's host key learned through the firstbox; returns its fingerprint. */
  learnNodeHostKey(address: string, port: number, pinned?: string): Promise<string>;
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
    const policy = new HostKeyPolicy({
      pins: pins.length ? { [firstbox.name]: pins } : {},
      knownHosts,
      trustOnFirstUse: fb.hostKeyPolicy === 'TrustOnFirstUse',
      onRecord: (host, fp, how) => {
        if (host === firstbox.name && how === 'trust-on-first-use') {
          this.tofuRecorded.set(zone.metadata.uid ?? key0(zone), fp);
          onTrustOnFirstUse?.(fp);
        }
      },
    });
    const pool = new SshPool({
      hostKeys: policy,
      credentials,
      maxConnections: this.opts.maxConnectionsPerZone ?? 32,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      commandTimeoutMs: this.opts.commandTimeoutMs,
      observer: this.opts.observer,
    });
    const learned = new Map<string, string>();
    const access: ZoneAccess = {
      pool,
      firstbox,
      credentials,
      node: (address, port = 22, user = 'root') => ({ name: address, address, port, user }),
      learnNodeHostKey: async (address, port, pinned) => {
        const name = validated('HOST', address, 'node address');
        if (pinned) {
          if (learned.get(name) !== pinned) {
            policy.repin(name, pinned, 'pinned in NodePool status');
            learned.set(name, pinned);
          }
          return pinned;
        }
        const cachedFp = learned.get(name);
        if (cachedFp) return cachedFp;
        const scan = await pool.exec(
          firstbox,
          shell(
            ['ssh-keyscan', '-T', '5', '-t', 'ed25519,ecdsa,rsa', '-p', String(port), name],
            'fetch node host key',
          ),
          { timeoutMs: 20_000 },
        );
        const entries = parseKnownHosts(scan.stdout);
        const best = entries.find((e) => e.keyType === 'ssh-ed25519') ?? entries[0];
        if (!best) {
          throw new Error(
            `firstbox could not read the host key of ${name}:${port} (ssh-keyscan: ${scan.stderr.trim() || 'no answer'}); ` +
              'check the node is up and its sshd listens on that port',
          );
        }
        policy.repin(name, best.fingerprint, 'learned through the trusted firstbox');
        learned.set(name, best.fingerprint);
        return best.fingerprint;
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
