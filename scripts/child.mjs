// How `npm start` and `npm test` run a server they started themselves (NATS, FerretDB):
// wait until it answers, and stop it politely, then firmly. Plain JavaScript, like the
// scripts that use it, so it runs before anything is compiled.

/**
 * Resolves with `stop()` once `answers()` is true; rejects when the process exits first
 * or `timeoutMs` passes (and then kills it).
 */
export async function untilAnswering(child, answers, { what, timeoutMs, intervalMs }) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    if (await answers()) return () => stopChild(child);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  child.kill('SIGKILL');
  throw new Error(`${what} did not answer within ${Math.round(timeoutMs / 1000)} s`);
}

/** SIGTERM, and SIGKILL three seconds later if it is still there; resolves once it has ended. */
export function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}
