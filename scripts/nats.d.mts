// Types of scripts/nats.mjs, for the TypeScript test helpers.
export declare const NATS_SERVER_VERSION: string;
export declare function natsServerBinary(log?: (line: string) => void): string;
