/**
 * Structured JSON logs (pino). Secret-bearing fields are redacted wherever they appear, so a
 * credentials object passed to a log call by mistake cannot leak a password or a private key.
 */
import { type Logger, type LoggerOptions, pino } from 'pino';

export const redactedPaths = [
  'password',
  'passphrase',
  'privateKey',
  'token',
  'data',
  'stringData',
  '*.password',
  '*.passphrase',
  '*.privateKey',
  '*.token',
  '*.data',
  '*.stringData',
  '*["ssh-privatekey"]',
  'credentials',
  '*.credentials',
];

export function createLogger(
  opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  const options: LoggerOptions = {
    name: opts.name ?? 'pitrix-operator',
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactedPaths, censor: '[REDACTED]' },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
