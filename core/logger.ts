import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths that may hold secrets. pino replaces them before anything is written. */
export const REDACT_PATHS = [
  'secret',
  'secrets',
  'token',
  'api_key',
  'adminToken',
  'config.adminToken',
  'config.encryptionKey',
  'config.token',
  '*.secret',
  '*.secrets',
  '*.token',
  '*.api_key',
  'req.headers.authorization',
  'headers.authorization',
  'headers["webhook-signature"]',
];

export function createLogger(
  level: string,
  destination?: NodeJS.WritableStream,
  base: Record<string, unknown> = {},
): Logger {
  return pino(
    {
      level,
      base: { ...base },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination as pino.DestinationStream | undefined,
  );
}
