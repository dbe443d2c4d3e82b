import type { ChildProcess } from 'node:child_process';

// Child processes a test file started (hookline programs, NATS servers) are killed when
// the file's process ends, however it ends: node's test runner ends a file that runs past
// --test-timeout with SIGTERM, before its `after` hooks run, and children left behind
// would keep running (and keep their ports and CPU) after the test has failed.

const children = new Set<ChildProcess>();
let installed = false;

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

/** Kills `child` when this process exits or is told to stop, if it still runs then. */
export function reapOnExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (installed) return;
  installed = true;
  process.once('exit', killAll);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[signal]);
    });
  }
}
