/**
 * Host key policy. A host's key must match a pinned fingerprint or a known_hosts entry; trusting
 * a first contact is an explicit opt-in; a changed key is a hard stop for that host only, and the
 * one way past it is `repin` for exactly that host with a recorded reason (R5 rebuilds VMs, whose
 * keys then change by design). There is no switch that turns checking off.
 */
import { createHash, createHmac } from 'node:crypto';
import { patternRegExp } from '../api/patterns.js';
import { ValidationError } from './errors.js';

/** OpenSSH's fingerprint of a wire-format public key blob: `SHA256:` + unpadded base64. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name at the start of a wire-format key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`). */
export function keyTypeOfBlob(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  return len > 0 && len < 64 && keyBlob.length >= 4 + len
    ? keyBlob.toString('latin1', 4, 4 + len)
    : 'unknown';
}

/** How OpenSSH names a host in known_hosts: bare for port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * The key a pin is stored under: the endpoint (address and port, in known_hosts spelling), so a
 * second sshd on the same address (another port) can never read or replace the first one's pin.
 */
export function pinKey(host: Pick<HostIdentity, 'address' | 'port'>): string {
  return knownHostsName(host.address, host.port);
}

export interface KnownHostEntry {
  marker: '@revoked' | '@cert-authority' | undefined;
  /** Plain patterns (`host`, `[host]:port`, `*.example`, `!bad`), or a hashed entry. */
  hosts: { kind: 'plain'; patterns: string[] } | { kind: 'hashed'; salt: Buffer; hash: Buffer };
  keyType: string;
  keyBlob: Buffer;
  fingerprint: string;
  line: number;
}

const KEY_TYPES = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|ssh-dss|sk-[a-z0-9@.-]+)$/;

/**
 * Parses known_hosts text. Malformed lines are skipped (as OpenSSH does), so one bad line in a
 * Secret does not lock the operator out of every host; comments and blank lines are ignored.
 */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as typeof marker;
    const [hostField, keyType, b64] = fields;
    if (!hostField || !keyType || !b64 || !KEY_TYPES.test(keyType)) return;
    const keyBlob = Buffer.from(b64, 'base64');
    if (keyBlob.length === 0 || keyTypeOfBlob(keyBlob) !== keyType) return;
    let hosts: KnownHostEntry['hosts'];
    if (hostField.startsWith('|1|')) {
      const [, , salt, hash] = hostField.split('|');
      if (!salt || !hash) return;
      hosts = { kind: 'hashed', salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
    } else {
      hosts = { kind: 'plain', patterns: hostField.split(',') };
    }
    out.push({ marker, hosts, keyType, keyBlob, fingerprint: fingerprintSha256(keyBlob), line: i + 1 });
  });
  return out;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** Whether an entry names `host` on `port`, with OpenSSH's negation and wildcard rules. */
export function entryMatches(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (entry.hosts.kind === 'hashed') {
    const h = createHmac('sha1', entry.hosts.salt).update(name).digest();
    return h.equals(entry.hosts.hash);
  }
  let matched = false;
  for (const p of entry.hosts.patterns) {
    const negated = p.startsWith('!');
    const pattern = negated ? p.slice(1) : p;
    if (globToRegExp(pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export interface HostIdentity {
  /** The pool's host identity (HostTarget.name). Pins and TOFU records are keyed by it. */
  name: string;
  address: string;
  port: number;
}

export type HostKeyVerdict =
  | { ok: true; fingerprint: string; by: 'pin' | 'known_hosts' | 'trust-on-first-use' }
  | { ok: false; fingerprint: string; expected: string[]; revoked: boolean };

export interface RepinRecord {
  host: string;
  from: readonly string[];
  to: string;
  reason: string;
  at: Date;
}

export interface HostKeyPolicyOptions {
  /** Fingerprints (`SHA256:...`) per host name (HostTarget.name). A host with pins ignores known_hosts. */
  pins?: Readonly<Record<string, readonly string[]>>;
  /**
   * Fingerprints per endpoint, keyed by `pinKey({address, port})` (`10.0.0.1`, `[10.0.0.1]:2222`).
   * Looked up before `pins`: the operator pins the firstbox this way, so no target that merely
   * shares its address or name (another port) is ever matched against, or can replace, its pin.
   */
  endpoints?: Readonly<Record<string, readonly string[]>>;
  /** known_hosts text (from a Secret), hashed and plain entries. */
  knownHosts?: string;
  /** Opt-in: accept and record the key of a host that has no pin and no known_hosts entry. */
  trustOnFirstUse?: boolean;
  /** Called when a key was trusted on first use or re-pinned, so it can be persisted (status, Secret). */
  onRecord?: (
    host: string,
    fingerprint: string,
    how: 'trust-on-first-use' | 'repin',
    endpoint?: Pick<HostIdentity, 'address' | 'port'>,
  ) => void;
}

const FINGERPRINT = patternRegExp('SHA256_FINGERPRINT');

function checkFingerprint(fp: string, field: string): string {
  const normalized = fp.trim().replace(/=$/, '');
  if (!FINGERPRINT.test(normalized)) {
    throw new ValidationError(
      field,
      fp,
      'an OpenSSH SHA256 fingerprint',
      'copy the SHA256:... value printed by ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub',
    );
  }
  return normalized;
}

export class HostKeyPolicy {
  private readonly pins = new Map<string, string[]>();
  private readonly endpoints = new Map<string, string[]>();
  private readonly knownHosts: KnownHostEntry[];
  private readonly tofu: boolean;
  private readonly onRecord: HostKeyPolicyOptions['onRecord'];
  private readonly repins: RepinRecord[] = [];

  constructor(opts: HostKeyPolicyOptions = {}) {
    for (const [host, fps] of Object.entries(opts.pins ?? {})) {
      this.pins.set(
        host,
        fps.map((fp, i) => checkFingerprint(fp, `hostKeys[${host}][${i}]`)),
      );
    }
    for (const [endpoint, fps] of Object.entries(opts.endpoints ?? {})) {
      this.endpoints.set(
        endpoint,
        fps.map((fp, i) => checkFingerprint(fp, `hostKeys[${endpoint}][${i}]`)),
      );
    }
    this.knownHosts = parseKnownHosts(opts.knownHosts ?? '');
    this.tofu = opts.trustOnFirstUse ?? false;
    this.onRecord = opts.onRecord;
  }

  private knownEntries(host: HostIdentity): KnownHostEntry[] {
    const names = new Set([host.address, host.name]);
    return this.knownHosts.filter((e) => [...names].some((n) => entryMatches(e, n, host.port)));
  }

  /** Pins of a host: its endpoint's first, then (only if the endpoint has none) its name's. */
  private pinsOf(host: HostIdentity): string[] | undefined {
    return this.endpoints.get(pinKey(host)) ?? this.pins.get(host.name);
  }

  /** The fingerprints a host is expected to present (empty: nothing known). */
  expected(host: HostIdentity): string[] {
    const pinned = this.pinsOf(host);
    if (pinned) return [...pinned];
    return this.knownEntries(host)
      .filter((e) => e.marker === undefined)
      .map((e) => e.fingerprint);
  }

  /**
   * Key algorithms to ask the server for, most preferred first, so a server with several host keys
   * presents the type we know (as OpenSSH's client does); undefined leaves ssh2's default order.
   */
  preferredKeyAlgorithms(host: HostIdentity): string[] | undefined {
    if (this.pinsOf(host)) return undefined;
    const types = new Set(
      this.knownEntries(host)
        .filter((e) => e.marker === undefined)
        .map((e) => e.keyType),
    );
    if (types.size === 0) return undefined;
    return [...types].flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  }

  verify(host: HostIdentity, keyBlob: Buffer): HostKeyVerdict {
    const fingerprint = fingerprintSha256(keyBlob);
    const known = this.knownEntries(host);
    const revoked = known.some((e) => e.marker === '@revoked' && e.keyBlob.equals(keyBlob));
    const pinned = this.pinsOf(host);
    if (revoked) return { ok: false, fingerprint, expected: this.expected(host), revoked };
    if (pinned) {
      return pinned.includes(fingerprint)
        ? { ok: true, fingerprint, by: 'pin' }
        : { ok: false, fingerprint, expected: [...pinned], revoked };
    }
    const usable = known.filter((e) => e.marker === undefined);
    if (usable.length > 0) {
      return usable.some((e) => e.keyBlob.equals(keyBlob))
        ? { ok: true, fingerprint, by: 'known_hosts' }
        : { ok: false, fingerprint, expected: usable.map((e) => e.fingerprint), revoked };
    }
    if (this.tofu) {
      this.endpoints.set(pinKey(host), [fingerprint]);
      this.onRecord?.(host.name, fingerprint, 'trust-on-first-use', {
        address: host.address,
        port: host.port,
      });
      return { ok: true, fingerprint, by: 'trust-on-first-use' };
    }
    return { ok: false, fingerprint, expected: [], revoked };
  }

  /**
   * Replaces what is trusted for exactly one host with one new fingerprint, for a deliberate
   * rebuild. `host` is a pin key (`pinKey({address, port})`) or a host name. Every other host
   * keeps its keys; the change is recorded with its reason.
   */
  repin(host: string, newFingerprint: string, reason: string): RepinRecord {
    if (!host || /[*?!,\s]/.test(host)) {
      throw new ValidationError(
        'host',
        host,
        'a single host name',
        're-pin one host at a time, by its exact name',
      );
    }
    if (!reason.trim()) {
      throw new ValidationError(
        'reason',
        reason,
        'a reason',
        'say why the key changed (e.g. "R5 rebuilt VM")',
      );
    }
    const to = checkFingerprint(newFingerprint, 'newFingerprint');
    const store = this.endpoints.has(host) ? this.endpoints : this.pins;
    const record: RepinRecord = { host, from: store.get(host) ?? [], to, reason, at: new Date() };
    store.set(host, [to]);
    this.repins.push(record);
    this.onRecord?.(host, to, 'repin');
    return record;
  }

  /** The audit trail of re-pins made through this policy. */
  repinHistory(): readonly RepinRecord[] {
    return this.repins;
  }

  /** Pins as they stand now (endpoint pins under their pin key), including those recorded on first use. */
  pinned(): Record<string, string[]> {
    return Object.fromEntries([...this.pins, ...this.endpoints].map(([h, fps]) => [h, [...fps]]));
  }
}
