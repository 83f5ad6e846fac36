/**
 * Turns what went wrong reaching the platform into a condition reason a human can search for and a
 * message that names the host, what we were doing and the remedy.
 */
import { ApiValidationError } from '../api/common.js';
import { FactsParseError } from '../facts/errors.js';
import { CredentialsError } from '../ssh/credentials.js';
import { SshError, ValidationError } from '../ssh/errors.js';
import { SecretNotConsentedError } from './consent.js';
import { SecretMissingError } from './platform.js';

export interface AccessFailure {
  reason: string;
  message: string;
  /** The host could not be reached or authenticated (as opposed to answering wrongly). */
  connection: boolean;
}

const SSH_REASONS: Record<string, string> = {
  connect: 'Unreachable',
  auth: 'AuthenticationFailed',
  'host-key': 'HostKeyMismatch',
  timeout: 'Timeout',
  'may-have-run': 'ConnectionDropped',
  channel: 'Unreachable',
  cancelled: 'Cancelled',
};

export function classifyAccessError(err: unknown, what: string): AccessFailure {
  if (err instanceof SecretMissingError)
    return { reason: 'SecretNotFound', message: err.message, connection: true };
  if (err instanceof SecretNotConsentedError)
    return { reason: 'SecretNotLabelled', message: err.message, connection: true };
  if (err instanceof CredentialsError)
    return { reason: 'InvalidCredentials', message: err.message, connection: true };
  if (err instanceof SshError) {
    const reason = SSH_REASONS[err.reason] ?? 'Unreachable';
    return {
      reason,
      message: err.message,
      connection: err.reason !== 'timeout' && err.reason !== 'may-have-run',
    };
  }
  if (err instanceof FactsParseError) {
    return {
      reason: 'UnexpectedOutput',
      message: `${what} answered with output the operator cannot read: ${err.message}`,
      connection: false,
    };
  }
  if (err instanceof ValidationError || err instanceof ApiValidationError) {
    return { reason: 'InvalidSpec', message: err.message, connection: false };
  }
  return {
    reason: 'ObserveFailed',
    message: `${what}: ${err instanceof Error ? err.message : String(err)}`,
    connection: false,
  };
}
