#!/usr/bin/env node
import { main } from './cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`hookline: ${(err as Error).message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
