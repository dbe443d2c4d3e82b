// Types of scripts/nats.mjs, for the TypeScript test helpers.
export declare const NATS_SERVER_VERSION: string;
export declare function natsServerBinary(log?: (line: string) => void): string;
export function natsAddress(urls: string): { host: string; port: number };
export function natsAnswers(
  at: { host: string; port: number },
  timeoutMs?: number,
): Promise<boolean>;
export function startNats(opts: {
  host: string;
  port: number;
  storeDir: string;
  log?: (line: string) => void;
}): Promise<{ url: string; stop(): Promise<void> }>;
