/**
 * Secrets by consent. A Zone or NodePool names a Secret by name only, and whoever may write those
 * resources need not be able to read that Secret: without a check, naming someone else's Secret and
 * pointing `firstbox.host` at one's own server (TrustOnFirstUse) would hand its password out as SSH
 * password authentication. So the operator uses only Secrets whose owner labelled them for it; any
 * other is refused before a byte of it is used, with the exact command that gives consent.
 */
import type { SecretRead } from '../runtime/kube.js';

export const CREDENTIALS_LABEL = 'ops.pitrix.io/credentials';
export const CREDENTIALS_LABEL_VALUE = 'true';

/** The Secret exists but does not carry the consent label; nothing of it was used. */
export class SecretNotConsentedError extends Error {
  override name = 'SecretNotConsentedError';
  constructor(
    readonly namespace: string,
    readonly secretName: string,
  ) {
    super(
      `Secret ${namespace}/${secretName} is not labelled ${CREDENTIALS_LABEL}=${CREDENTIALS_LABEL_VALUE}, so the operator ` +
        "does not use it (a Secret is used only with its owner's consent); if it is meant for the operator: " +
        `kubectl label secret ${secretName} -n ${namespace} ${CREDENTIALS_LABEL}=${CREDENTIALS_LABEL_VALUE}`,
    );
  }
}

/** The Secret's data when its owner consented; throws SecretNotConsentedError otherwise. */
export function consentedData(namespace: string, name: string, secret: SecretRead): Record<string, string> {
  if (secret.labels[CREDENTIALS_LABEL] !== CREDENTIALS_LABEL_VALUE)
    throw new SecretNotConsentedError(namespace, name);
  return secret.data;
}
