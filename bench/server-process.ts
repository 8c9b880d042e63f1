/**
 * Starts a test server in its own process (through its CLI), as the benchmarks need it: the
 * replicator and each server then get their own event loop, as they would against real mongods.
 * BENCH_SERVER_PROF=<dir> writes a CPU profile of each server there.
 *
 * The server runs compiled: its CLI is bundled once per run with esbuild, as plain JavaScript.
 * Under tsx every function created at run time also gets its name set through a helper (esbuild's
 * `keepNames`), which costs the server's expression engine about a third of its time and would
 * make the benchmarks measure the development loader rather than the server.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { build } from 'esbuild';

/**
 * A running test server process.
 * @internal
 */
export interface ServerProcess {
  /** The connection string it printed. */
  readonly uri: string;
  /**
   * CPU seconds (user + system) the process has used so far and its resident memory in MB;
   * undefined where /proc is missing.
   */
  usage(): Promise<ProcessUsage | undefined>;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * What {@link ServerProcess.usage} reports.
 * @internal
 */
export interface ProcessUsage {
  readonly cpuSeconds: number;
  readonly rssMb: number;
}

/** Clock ticks per second and page size of /proc/<pid>/stat on Linux (every common build). */
const USER_HZ = 100;
const PAGE_BYTES = 4096;

async function processUsage(pid: number | undefined): Promise<ProcessUsage | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: utime, stime and rss are fields 14, 15 and 24.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / USER_HZ,
      rssMb: (Number(fields[21]) * PAGE_BYTES) / 2 ** 20
    };
  } catch {
    return undefined;
  }
}

let bundled: Promise<string> | undefined;

/** The test server's CLI as one ES module (inside the project, so its packages resolve). */
function serverBundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = join('node_modules', '.cache', 'mongo-replicate-bench');
    await mkdir(dir, { recursive: true });
    const outfile = join(dir, 'test-server.mjs');
    await build({
      entryPoints: ['test/server/cli.ts'],
      outfile,
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'warning'
    });
    return outfile;
  })();
  return bundled;
}

/**
 * Starts a single-node replica set named `replSetName`.
 * @param oplogSizeMb - Its capped oplog size. The test server keeps the oplog as objects in its
 * heap, so a large oplog that fills up slows every later command through garbage collection.
 * @internal
 */
export async function startServerProcess(
  replSetName: string,
  oplogSizeMb = 2048,
  /** A sharded cluster of this many shards instead: `uri` is then its mongos. */
  shards?: number
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_SERVER_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SERVER_PROF}`]
        : []),
      await serverBundle(),
      '--port',
      '0',
      '--repl-set',
      replSetName,
      '--oplog-size-mb',
      String(oplogSizeMb),
      ...(shards === undefined ? [] : ['--shards', String(shards)])
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  );
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(
      `The ${replSetName} test server exited (code ${String(code)}) before it listened`
    );
  });
  const [uri] = (await Promise.race([once(lines, 'line'), exited])) as [string];
  exited.catch(() => undefined);
  lines.close();
  return {
    uri,
    usage: () => processUsage(child.pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  };
}
