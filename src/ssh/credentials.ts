/**
 * SSH credentials read from a Kubernetes Secret. Keys, as in `kubernetes.io/ssh-auth` Secrets:
 *   - `ssh-privatekey`: an OpenSSH/PEM private key (Kubernetes' standard key), or
 *   - `password`: a password (used only when no private key is given),
 *   - `passphrase` (optional): decrypts an encrypted private key,
 *   - `username` (optional): overrides the resource's user.
 * The values never leave this object in text form: toString, toJSON and util.inspect redact them.
 */
import { inspect } from 'node:util';
import ssh2 from 'ssh2';

// ssh2 is CommonJS: only some names are visible as ESM named exports, `utils` is not.
const { utils } = ssh2;

export const SECRET_KEYS = {
  privateKey: 'ssh-privatekey',
  password: 'password',
  passphrase: 'passphrase',
  username: 'username',
} as const;

/** The subset of a V1Secret this module reads; keeps it independent of the Kubernetes client. */
export interface SecretLike {
  metadata?: { name?: string; namespace?: string };
  /** base64-encoded values, as the API returns them. */
  data?: Record<string, string> | undefined;
  /** plain values (only on objects built locally; the API server folds them into data). */
  stringData?: Record<string, string> | undefined;
}

export class CredentialsError extends Error {
  readonly secret: string;
  constructor(secret: string, message: string) {
    super(`Secret ${secret}: ${message}`);
    this.name = 'CredentialsError';
    this.secret = secret;
  }
}

const REDACTED = '[redacted]';

export class SshCredentials {
  /** `namespace/name` of the Secret, for error messages (AuthError names it). */
  readonly secret: string;
  readonly method: 'publickey' | 'password';
  readonly username: string | undefined;
  // Private fields stay out of JSON.stringify, spread and structuredClone of the public shape.
  readonly #privateKey: string | undefined;
  readonly #passphrase: string | undefined;
  readonly #password: string | undefined;

  constructor(init: {
    secret: string;
    privateKey?: string;
    passphrase?: string;
    password?: string;
    username?: string;
  }) {
    this.secret = init.secret;
    this.#privateKey = init.privateKey;
    this.#passphrase = init.passphrase;
    this.#password = init.password;
    this.username = init.username;
    this.method = init.privateKey ? 'publickey' : 'password';
  }

  /** The ssh2 ConnectConfig fields for authentication. Only the SSH layer calls this. */
  authConfig(): { privateKey?: string; passphrase?: string; password?: string } {
    if (this.#privateKey) {
      return this.#passphrase
        ? { privateKey: this.#privateKey, passphrase: this.#passphrase }
        : { privateKey: this.#privateKey };
    }
    return { password: this.#password ?? '' };
  }

  /** Secret values, for masking them in captured output. */
  secretValues(): string[] {
    // Any length: a short password is still a password (output.ts masks in linear time).
    return [this.#password, this.#passphrase].filter((v): v is string => !!v);
  }

  toString(): string {
    return `SshCredentials(${this.secret}, ${this.method}${this.username ? `, user ${this.username}` : ''}, ${REDACTED})`;
  }
  toJSON(): Record<string, string | undefined> {
    return { secret: this.secret, method: this.method, username: this.username, value: REDACTED };
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

function decode(data: Record<string, string> | undefined, key: string): string | undefined {
  const v = data?.[key];
  if (v === undefined) return undefined;
  return Buffer.from(v, 'base64').toString('utf8');
}

/**
 * Reads credentials from a Secret. Errors name the Secret and the missing or broken key, never
 * a value.
 */
export function credentialsFromSecret(secret: SecretLike): SshCredentials {
  const ref = `${secret.metadata?.namespace ?? 'default'}/${secret.metadata?.name ?? '(unnamed)'}`;
  const get = (key: string) => secret.stringData?.[key] ?? decode(secret.data, key);
  const privateKey = get(SECRET_KEYS.privateKey);
  const password = get(SECRET_KEYS.password);
  const passphrase = get(SECRET_KEYS.passphrase);
  const username = get(SECRET_KEYS.username)?.trim() || undefined;
  if (!privateKey?.trim() && !password) {
    throw new CredentialsError(
      ref,
      `has neither "${SECRET_KEYS.privateKey}" nor "${SECRET_KEYS.password}"; ` +
        `add one (kubectl create secret generic NAME --type=kubernetes.io/ssh-auth --from-file=ssh-privatekey=KEYFILE)`,
    );
  }
  if (privateKey?.trim()) {
    // Parse now so a broken or encrypted-without-passphrase key is reported against the Secret,
    // not as a confusing handshake failure on every host.
    const parsed = utils.parseKey(privateKey, passphrase);
    if (parsed instanceof Error) {
      const needsPassphrase = /encrypted|passphrase/i.test(parsed.message);
      throw new CredentialsError(
        ref,
        needsPassphrase && !passphrase
          ? `key "${SECRET_KEYS.privateKey}" is encrypted and key "${SECRET_KEYS.passphrase}" is missing; add the passphrase`
          : `key "${SECRET_KEYS.privateKey}" is not a usable private key (${parsed.message}); store an OpenSSH or PEM private key`,
      );
    }
  }
  return new SshCredentials({
    secret: ref,
    ...(privateKey?.trim() ? { privateKey } : {}),
    ...(passphrase ? { passphrase } : {}),
    ...(password ? { password } : {}),
    ...(username ? { username } : {}),
  });
}
