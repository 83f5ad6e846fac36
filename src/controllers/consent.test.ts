import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../runtime/kube.js';
import { CREDENTIALS_LABEL, SecretNotConsentedError } from './consent.js';
import { classifyAccessError } from './errors.js';
import { Platform, SecretMissingError } from './platform.js';

const password = Buffer.from('s3cret-of-someone-else').toString('base64');

function platformWith(labels: Record<string, string> | undefined): Platform {
  const client = {
    readSecret: async () => (labels === undefined ? undefined : { data: { password }, labels }),
  } as unknown as KubeClient;
  return new Platform(client);
}

describe('Secrets by consent', () => {
  it('returns the data of a Secret labelled for the operator', async () => {
    const data = await platformWith({ [CREDENTIALS_LABEL]: 'true' }).secret('ns', 'creds');
    expect(data.password).toBe(password);
  });

  it.each([
    ['no labels', {}],
    ['another value', { [CREDENTIALS_LABEL]: 'yes' }],
    ['another label', { 'app.kubernetes.io/name': 'db' }],
  ])('refuses a Secret with %s, naming it and the kubectl label fix', async (_, labels) => {
    const err = await platformWith(labels)
      .secret('tenant-a', 'db-root')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretNotConsentedError);
    const message = (err as Error).message;
    expect(message).toContain('Secret tenant-a/db-root');
    expect(message).toContain('kubectl label secret db-root -n tenant-a ops.pitrix.io/credentials=true');
    expect(message).not.toContain(password);
    expect(classifyAccessError(err, 'firstbox').reason).toBe('SecretNotLabelled');
  });

  it('says how to create and label a missing Secret', async () => {
    const err = await platformWith(undefined)
      .secret('ns', 'firstbox-ssh')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretMissingError);
    expect((err as Error).message).toContain(
      'kubectl label secret firstbox-ssh -n ns ops.pitrix.io/credentials=true',
    );
  });
});
