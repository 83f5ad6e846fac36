import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ed25519KeyPair } from '../../hack/ed25519.js';
import { ValidationError } from './errors.js';
import {
  entryMatches,
  fingerprintSha256,
  HostKeyPolicy,
  keyTypeOfBlob,
  parseKnownHosts,
  pinKey,
} from './hostkeys.js';

/** A fresh ed25519 public key as a wire-format blob and a known_hosts key field. */
function newKey(): { blob: Buffer; line: string } {
  const line = ed25519KeyPair().public.split(' ').slice(0, 2).join(' ');
  return { blob: Buffer.from(line.split(' ')[1]!, 'base64'), line };
}

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

const A = { name: 'node-a', address: '10.0.0.1', port: 22 };
const A2222 = { name: 'node-a', address: '10.0.0.1', port: 2222 };

describe('fingerprints', () => {
  it('matches OpenSSH: SHA256 + unpadded base64 of the key blob', () => {
    const { blob } = newKey();
    const fp = fingerprintSha256(blob);
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fp.slice(7)).toBe(createHash('sha256').update(blob).digest('base64').replace(/=$/, ''));
    expect(keyTypeOfBlob(blob)).toBe('ssh-ed25519');
  });
});

describe('known_hosts parsing', () => {
  const k1 = newKey();
  const k2 = newKey();
  const text = [
    '# comment',
    '',
    `10.0.0.1,node-a ${k1.line}`,
    `[10.0.0.1]:2222 ${k2.line}`,
    `${hashed('10.0.0.3')} ${k1.line}`,
    `*.example.com,!bad.example.com ${k2.line}`,
    'garbage line',
    `10.0.0.9 ssh-ed25519 !!!notbase64`,
    `@revoked 10.0.0.4 ${k1.line}`,
  ].join('\n');
  const entries = parseKnownHosts(text);

  it('parses plain, bracketed, hashed, wildcard and marked entries and skips garbage', () => {
    expect(entries).toHaveLength(5);
    expect(entries[0]?.fingerprint).toBe(fingerprintSha256(k1.blob));
    expect(entries[4]?.marker).toBe('@revoked');
  });
  it('matches hosts the way OpenSSH does', () => {
    const [plain, bracket, hash, wild] = entries;
    expect(entryMatches(plain!, '10.0.0.1', 22)).toBe(true);
    expect(entryMatches(plain!, 'node-a', 22)).toBe(true);
    expect(entryMatches(plain!, '10.0.0.1', 2222)).toBe(false);
    expect(entryMatches(bracket!, '10.0.0.1', 2222)).toBe(true);
    expect(entryMatches(bracket!, '10.0.0.1', 22)).toBe(false);
    expect(entryMatches(hash!, '10.0.0.3', 22)).toBe(true);
    expect(entryMatches(hash!, '10.0.0.30', 22)).toBe(false);
    expect(entryMatches(wild!, 'x.example.com', 22)).toBe(true);
    expect(entryMatches(wild!, 'bad.example.com', 22)).toBe(false);
  });
  it('verifies by known_hosts, port-aware, and rejects revoked keys', () => {
    const p = new HostKeyPolicy({ knownHosts: text });
    expect(p.verify(A, k1.blob)).toMatchObject({ ok: true, by: 'known_hosts' });
    expect(p.verify(A, k2.blob)).toMatchObject({ ok: false, expected: [fingerprintSha256(k1.blob)] });
    expect(p.verify(A2222, k2.blob)).toMatchObject({ ok: true });
    expect(p.verify({ name: 'x', address: '10.0.0.4', port: 22 }, k1.blob)).toMatchObject({
      ok: false,
      revoked: true,
    });
    expect(p.preferredKeyAlgorithms(A)).toEqual(['ssh-ed25519']);
  });
});

describe('HostKeyPolicy', () => {
  const k1 = newKey();
  const k2 = newKey();
  const fp1 = fingerprintSha256(k1.blob);
  const fp2 = fingerprintSha256(k2.blob);

  it('accepts a pinned key, refuses another, refuses unknown hosts without opt-in', () => {
    const p = new HostKeyPolicy({ pins: { 'node-a': [fp1] } });
    expect(p.verify(A, k1.blob)).toMatchObject({ ok: true, by: 'pin' });
    expect(p.verify(A, k2.blob)).toEqual({ ok: false, fingerprint: fp2, expected: [fp1], revoked: false });
    expect(p.verify({ ...A, name: 'node-b' }, k1.blob)).toMatchObject({ ok: false, expected: [] });
  });
  it('pins win over known_hosts for the same host', () => {
    const p = new HostKeyPolicy({ pins: { 'node-a': [fp2] }, knownHosts: `10.0.0.1 ${k1.line}` });
    expect(p.verify(A, k1.blob).ok).toBe(false);
    expect(p.verify(A, k2.blob).ok).toBe(true);
  });
  it('trust-on-first-use records the first key and holds it', () => {
    const seen: string[] = [];
    const p = new HostKeyPolicy({
      trustOnFirstUse: true,
      onRecord: (h, fp, how) => seen.push(`${h} ${fp} ${how}`),
    });
    expect(p.verify(A, k1.blob)).toMatchObject({ ok: true, by: 'trust-on-first-use' });
    expect(p.verify(A, k1.blob)).toMatchObject({ ok: true, by: 'pin' });
    expect(p.verify(A, k2.blob).ok).toBe(false);
    expect(seen).toEqual([`node-a ${fp1} trust-on-first-use`]);
  });
  it('repin changes exactly one host and records why', () => {
    const p = new HostKeyPolicy({ pins: { 'node-a': [fp1], 'node-b': [fp1] } });
    const r = p.repin('node-a', fp2, 'R5 rebuilt the VM');
    expect(r).toMatchObject({ host: 'node-a', from: [fp1], to: fp2, reason: 'R5 rebuilt the VM' });
    expect(p.verify(A, k2.blob).ok).toBe(true);
    expect(p.verify(A, k1.blob).ok).toBe(false);
    expect(p.verify({ ...A, name: 'node-b' }, k1.blob).ok).toBe(true);
    expect(p.verify({ ...A, name: 'node-b' }, k2.blob).ok).toBe(false);
    expect(p.repinHistory()).toHaveLength(1);
  });
  it('refuses wildcard repins, missing reasons and malformed fingerprints', () => {
    const p = new HostKeyPolicy();
    expect(() => p.repin('*', fp1, 'x')).toThrow(ValidationError);
    expect(() => p.repin('node-a', fp1, ' ')).toThrow(/reason/);
    expect(() => p.repin('node-a', 'MD5:aa:bb', 'x')).toThrow(/SHA256 fingerprint/);
    expect(() => new HostKeyPolicy({ pins: { a: ['nope'] } })).toThrow(/hostKeys\[a\]\[0\]/);
  });
});

describe('endpoint pins (issue 12: keyed by address and port)', () => {
  const fbKey = newKey();
  const other = newKey();
  const fb = { name: '10.0.0.1', address: '10.0.0.1', port: 22 };
  const sameAddressOtherPort = { name: '10.0.0.1', address: '10.0.0.1', port: 2222 };

  it('pins the firstbox by endpoint: the same address on another port is not matched against it', () => {
    const policy = new HostKeyPolicy({ endpoints: { [pinKey(fb)]: [fingerprintSha256(fbKey.blob)] } });
    expect(policy.verify(fb, fbKey.blob).ok).toBe(true);
    expect(policy.verify(fb, other.blob).ok).toBe(false);
    // Nothing known for :2222, so it is refused (no TOFU), and the firstbox pin is unchanged.
    expect(policy.verify(sameAddressOtherPort, other.blob)).toMatchObject({ ok: false, expected: [] });
    expect(policy.pinned()).toEqual({ '10.0.0.1': [fingerprintSha256(fbKey.blob)] });
  });

  it('records a first use under the endpoint, so another port cannot replace it', () => {
    const recorded: Array<[string, unknown]> = [];
    const policy = new HostKeyPolicy({
      trustOnFirstUse: true,
      onRecord: (_h, fp, _how, endpoint) => recorded.push([fp, endpoint]),
    });
    expect(policy.verify(fb, fbKey.blob).ok).toBe(true);
    expect(policy.verify(sameAddressOtherPort, other.blob).ok).toBe(true);
    expect(policy.verify(fb, other.blob).ok).toBe(false);
    expect(policy.pinned()).toEqual({
      '10.0.0.1': [fingerprintSha256(fbKey.blob)],
      '[10.0.0.1]:2222': [fingerprintSha256(other.blob)],
    });
    expect(recorded[0]).toEqual([fingerprintSha256(fbKey.blob), { address: '10.0.0.1', port: 22 }]);
  });

  it('pinKey spells endpoints as known_hosts does', () => {
    expect(pinKey({ address: '10.0.0.1', port: 22 })).toBe('10.0.0.1');
    expect(pinKey({ address: '10.0.0.1', port: 2222 })).toBe('[10.0.0.1]:2222');
  });
});
