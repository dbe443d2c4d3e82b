import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { reapOnExit } from './reap.js';

const ROOT = join(import.meta.dirname, '..', '..');

export interface HooklineProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
}

/**
 * Runs the real `hookline` program (`node --import tsx cli.ts …`) as a child process and
 * waits until its registry listens (or, for a dispatcher alone, until it has started).
 */
export async function spawnHookline(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
  /** For processes without a registry: a log text that means "started". */
  readyText?: string,
): Promise<HooklineProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapOnExit(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const deadline = Date.now() + timeoutMs;
  let url = '';
  while (Date.now() < deadline) {
    const m = /"url":"(http:\/\/[^"]+)","msg":"registry listening"/.exec(out);
    if (m?.[1]) {
      url = m[1];
      break;
    }
    if (args[0] === 'dispatcher' && out.includes('dispatcher started')) break;
    if (readyText && out.includes(readyText)) break;
    if (child.exitCode !== null) {
      throw new Error(`hookline exited early (${child.exitCode}):\n${err}\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!url && args[0] !== 'dispatcher' && !(readyText && out.includes(readyText))) {
    child.kill('SIGKILL');
    throw new Error(`hookline did not start within ${timeoutMs} ms:\n${err}\n${out}`);
  }
  return { child, url, stdout: () => out, stderr: () => err, exited };
}

export async function kill(p: HooklineProcess, signal: NodeJS.Signals): Promise<number | string> {
  p.child.kill(signal);
  return p.exited;
}
