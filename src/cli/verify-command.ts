/**
 * `mongo-replicate verify`: compares every selected namespace of the source with the target
 * (renamed by the filter) and prints the report; exit 0 only when they are equal.
 */
import { MongoClient } from 'mongodb';

import { InvalidConfigError, SourceReadError } from '../errors.js';
import { type Logger, redactText } from '../logger.js';
import { type VerificationReport, Verifier } from '../verify/index.js';
import { type ConfigFlags, resolveCliConfig } from './config.js';
import { ExitCode } from './exit-codes.js';

/**
 * The flags of `verify`.
 * @internal
 */
export interface VerifyFlags extends ConfigFlags {
  json?: boolean;
  concurrency?: string;
}

async function connect(uri: string, role: 'source' | 'target'): Promise<MongoClient> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 15_000 });
  try {
    await client.connect();
  } catch (error) {
    await client.close().catch(() => undefined);
    throw new SourceReadError(
      `Cannot connect to the ${role}: ${redactText(error instanceof Error ? error.message : String(error))}`,
      true,
      { cause: error, hint: `Check the ${role} connection string and that it is reachable` }
    );
  }
  return client;
}

/** The human-readable report. */
function describe(report: VerificationReport): string[] {
  const lines: string[] = [];
  for (const ns of report.namespaces) {
    const name = ns.source === ns.target ? ns.source : `${ns.source} → ${ns.target}`;
    if (ns.equal) {
      lines.push(`= ${name}: ${ns.counts.source} documents equal`);
      continue;
    }
    lines.push(
      `≠ ${name}: source ${ns.counts.source}, target ${ns.counts.target} documents; ${ns.missing} missing, ${ns.extra} extra, ${ns.different} different`
    );
    const sample = (ids: unknown[]) => ids.map(id => JSON.stringify(id)).join(', ');
    if (ns.samples.missing.length) lines.push(`    missing _ids: ${sample(ns.samples.missing)}`);
    if (ns.samples.extra.length) lines.push(`    extra _ids: ${sample(ns.samples.extra)}`);
    if (ns.samples.different.length)
      lines.push(`    different _ids: ${sample(ns.samples.different)}`);
    if (!ns.options.equal) lines.push(`    options: ${ns.options.differences.join('; ')}`);
    if (!ns.indexes.equal) {
      const parts = [
        ns.indexes.missing.length ? `missing ${ns.indexes.missing.join(', ')}` : '',
        ns.indexes.extra.length ? `extra ${ns.indexes.extra.join(', ')}` : '',
        ns.indexes.different.length ? `different ${ns.indexes.different.join(', ')}` : ''
      ].filter(Boolean);
      lines.push(`    indexes: ${parts.join('; ')}`);
    }
  }
  lines.push(
    report.equal
      ? `EQUAL: ${report.namespaces.length} namespaces (${Math.round(report.durationMs)} ms)`
      : `DIFFERENT: ${report.namespaces.filter(ns => !ns.equal).length} of ${report.namespaces.length} namespaces differ`
  );
  return lines;
}

/**
 * Verifies and prints the report on stdout (JSON with `--json`). Resolves with the exit code.
 * @internal
 */
export async function verifyCommand(flags: VerifyFlags, logger: Logger): Promise<number> {
  const { options } = await resolveCliConfig(flags);
  const concurrency = flags.concurrency === undefined ? undefined : Number(flags.concurrency);
  if (concurrency !== undefined && (!Number.isSafeInteger(concurrency) || concurrency < 1)) {
    // Checked before connecting, like every other input.
    throw new InvalidConfigError('concurrency', 'must be a positive integer');
  }
  const source = await connect(String(options.source), 'source');
  try {
    const target = await connect(String(options.target), 'target');
    try {
      const verifier = new Verifier({
        source,
        target,
        ...(options.filter ? { filter: options.filter } : {}),
        ...(concurrency === undefined ? {} : { concurrency }),
        logger
      });
      verifier.on('namespace', ns =>
        logger.info(`Verified ${ns.target}`, { equal: ns.equal, documents: ns.counts.source })
      );
      const report = await verifier.verify();
      const out = flags.json ? [JSON.stringify(report)] : describe(report);
      process.stdout.write(`${out.join('\n')}\n`);
      return report.equal ? ExitCode.ok : ExitCode.different;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}
