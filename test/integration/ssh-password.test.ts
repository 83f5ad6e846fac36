/**
 * Password authentication. Debian's sshd with `UsePAM no` checks /etc/shadow, and the tests never
 * change this machine's root password, so the password path runs against ssh2's in-process
 * `Server` instead (same client code, real SSH protocol over loopback TCP).
 */
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519KeyPair } from '../../hack/ed25519.js';
import {
  AuthError,
  credentialsFromSecret,
  fingerprintSha256,
  HostKeyPolicy,
  type HostTarget,
  SshPool,
  sh,
} from '../../src/ssh/index.js';

const PASSWORD = 'correct horse battery';
const hostKey = ed25519KeyPair();
const fingerprint = fingerprintSha256(Buffer.from(hostKey.public.split(' ')[1]!, 'base64'));
let server: InstanceType<typeof ssh2.Server>;
let target: HostTarget;

beforeAll(async () => {
  server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => {
      if (ctx.method === 'password' && ctx.username === 'root' && ctx.password === PASSWORD) ctx.accept();
      else ctx.reject(['password']);
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec, _reject, info) => {
          const stream = acceptExec();
          // Echo the command and leak the password, to prove it is masked.
          stream.write(`ran: ${info.command} with ${PASSWORD}\n`);
          stream.exit(0);
          stream.end();
        });
      });
    });
    client.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.77.250.3', resolve));
  target = {
    name: 'pw-host',
    address: '127.77.250.3',
    port: (server.address() as AddressInfo).port,
    user: 'root',
  };
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function secret(password: string) {
  return credentialsFromSecret({
    metadata: { namespace: 'pitrix', name: 'pw-creds' },
    data: { password: Buffer.from(password).toString('base64') },
  });
}

describe('password credentials (in-process ssh2 server)', () => {
  it('authenticates by password and masks it in output', async () => {
    const pool = new SshPool({
      hostKeys: new HostKeyPolicy({ pins: { 'pw-host': [fingerprint] } }),
      credentials: secret(PASSWORD),
    });
    try {
      const r = await pool.exec(target, sh('say hi')`echo ${'hi there'}`);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe("ran: echo 'hi there' with ******\n");
    } finally {
      await pool.close();
    }
  });

  it('reports a wrong password as an AuthError naming the Secret', async () => {
    const pool = new SshPool({
      hostKeys: new HostKeyPolicy({ pins: { 'pw-host': [fingerprint] } }),
      credentials: secret('wrong'),
    });
    try {
      const err = await pool.exec(target, sh('probe')`true`).catch((e) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect(err.message).toContain('Secret pitrix/pw-creds');
      expect(err.message).toContain('pw-host');
      expect(err.message).not.toContain('wrong');
    } finally {
      await pool.close();
    }
  });
});
