/**
 * The `mongo-replicate` command as a real child process (the built `dist/cli/main.js`, as npm's
 * `bin` links it), for CLI tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { timeoutSignal } from './timeout-signal.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `mongo-replicate` process; its output is collected from the start. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves once stderr matches `pattern` (rejects after `ms`, or if the process exits first). */
  waitForStderr(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Resolves once the process has exited (killed with SIGKILL after `ms`, then rejects). */
  exited(ms?: number): Promise<Outcome>;
}

export function start(args: string[]): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const stderrListeners = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const listener of stderrListeners) listener();
  });
  const closed = new Promise<Outcome>(resolve =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  );
  return {
    child,
    stderr: () => stderr,
    waitForStderr(pattern, ms = 30_000) {
      const signal = timeoutSignal(ms, `mongo-replicate to log ${String(pattern)}`);
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(stderr);
          if (match) done(() => resolve(match));
        };
        const onAbort = () =>
          done(() => reject(new Error(`${String(signal.reason)}\nstderr: ${stderr}`)));
        const done = (settle: () => void) => {
          stderrListeners.delete(check);
          signal.removeEventListener('abort', onAbort);
          settle();
        };
        stderrListeners.add(check);
        signal.addEventListener('abort', onAbort, { once: true });
        void closed.then(() => done(() => reject(new Error(`exited first; stderr: ${stderr}`))));
        check();
      });
    },
    exited(ms = 60_000) {
      const signal = timeoutSignal(ms, 'mongo-replicate to exit');
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          child.kill('SIGKILL');
          reject(new Error(`${String(signal.reason)}\nstdout: ${stdout}\nstderr: ${stderr}`));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        void closed.then(outcome => {
          signal.removeEventListener('abort', onAbort);
          resolve(outcome);
        });
      });
    }
  };
}

/** Runs the command to its end. */
export const cli = (args: string[], ms?: number) => start(args).exited(ms);
