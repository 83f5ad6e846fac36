import { generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ed25519KeyPair } from '../../hack/ed25519.js';
import { CredentialsError, credentialsFromSecret } from './credentials.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const pem = ed25519KeyPair().private;
const meta = { namespace: 'pitrix', name: 'firstbox-ssh' };

describe('credentialsFromSecret', () => {
  it('reads a private key (kubernetes.io/ssh-auth) and a username override', () => {
    const c = credentialsFromSecret({
      metadata: meta,
      data: { 'ssh-privatekey': b64(pem), username: b64('ops\n') },
    });
    expect(c.method).toBe('publickey');
    expect(c.username).toBe('ops');
    expect(c.secret).toBe('pitrix/firstbox-ssh');
    expect(c.authConfig().privateKey).toBe(pem);
  });
  it('reads a password', () => {
    const c = credentialsFromSecret({ metadata: meta, data: { password: b64('hunter2-long') } });
    expect(c.method).toBe('password');
    expect(c.authConfig()).toEqual({ password: 'hunter2-long' });
    expect(c.secretValues()).toEqual(['hunter2-long']);
  });
  it('never prints secret values', () => {
    const c = credentialsFromSecret({ metadata: meta, data: { password: b64('hunter2-long') } });
    for (const text of [String(c), JSON.stringify(c), inspect(c), `${c}`, JSON.stringify({ c })]) {
      expect(text).not.toContain('hunter2');
      expect(text).toContain('pitrix/firstbox-ssh');
    }
  });
  it('names the Secret and the missing key', () => {
    expect(() => credentialsFromSecret({ metadata: meta, data: {} })).toThrow(CredentialsError);
    expect(() => credentialsFromSecret({ metadata: meta, data: {} })).toThrow(
      /Secret pitrix\/firstbox-ssh: has neither "ssh-privatekey" nor "password"/,
    );
    expect(() =>
      credentialsFromSecret({ metadata: meta, data: { 'ssh-privatekey': b64('not a key') } }),
    ).toThrow(/Secret pitrix\/firstbox-ssh: key "ssh-privatekey" is not a usable private key/);
  });
  it('asks for the passphrase of an encrypted key', () => {
    const enc = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'pw' })
      .toString();
    expect(() => credentialsFromSecret({ metadata: meta, data: { 'ssh-privatekey': b64(enc) } })).toThrow(
      /"passphrase" is missing/,
    );
    const ok = credentialsFromSecret({
      metadata: meta,
      data: { 'ssh-privatekey': b64(enc), passphrase: b64('pw') },
    });
    expect(ok.authConfig().passphrase).toBe('pw');
  });
});
