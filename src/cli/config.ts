/**
 * The configuration of `mongo-replicate run` and `verify`: a JSON file (checked with zod, the
 * boundary where untrusted input enters) and command-line flags on top of it, turned into
 * {@link ReplicatorOptions}. Everything is checked before a connection is made; a message names
 * the field and never echoes a connection string.
 */
import { readFile } from 'node:fs/promises';

import { Timestamp } from 'mongodb';
import { z } from 'zod';

import { type CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { FileCheckpointStore } from '../checkpoint/file-checkpoint-store.js';
import { InvalidConfigError } from '../errors.js';
import { replicatorDefaults, type ReplicatorOptions } from '../replicator-options.js';

const positiveInt = z.number().int().positive();
const namespaces = z.array(z.string().min(1));

const timestamp = z.union([
  z.literal('latest'),
  z.string().regex(/^\d+:\d+$/, 'must be "latest" or "<seconds>:<increment>"'),
  z.object({ t: z.number().int().nonnegative(), i: z.number().int().nonnegative() }).strict()
]);

/**
 * The JSON config file's shape: the Replicator's options that can be written as JSON.
 * @internal
 */
export const configFileSchema = z
  .object({
    source: z.string().min(1).optional(),
    target: z.string().min(1).optional(),
    mode: z.enum(['full', 'incr', 'all']).optional(),
    fetchMethod: z.enum(['oplog', 'changeStream']).optional(),
    transactions: z.enum(['flatten', 'preserve']).optional(),
    bypassDocumentValidation: z.boolean().optional(),
    standby: z.boolean().optional(),
    lease: z.object({ ttlMs: positiveInt.optional() }).strict().optional(),
    targetSharding: z.enum(['none', 'source']).optional(),
    shardWorker: z
      .object({ group: z.string().min(1), shards: z.array(z.string().min(1)).min(1) })
      .strict()
      .optional(),
    startAt: timestamp.optional(),
    filter: z
      .object({
        include: namespaces.optional(),
        exclude: namespaces.optional(),
        rename: z.record(z.string(), z.string()).optional(),
        includeSystem: z.boolean().optional(),
        /** Checked by the Replicator, which names `filter.skip[i]` and lists what it knows. */
        skip: z.array(z.string().min(1)).optional()
      })
      .strict()
      .optional(),
    rateLimit: z
      .object({
        opsPerSecond: z.number().positive().optional(),
        bytesPerSecond: z.number().positive().optional()
      })
      .strict()
      .optional(),
    checkpoint: z
      .object({
        name: z.string().min(1).optional(),
        intervalMs: z.number().nonnegative().optional(),
        /** Store checkpoints as files in this directory instead of in the target. */
        dir: z.string().min(1).optional()
      })
      .strict()
      .optional(),
    fetcher: z
      .object({
        batchSize: positiveInt.optional(),
        maxAwaitTimeMS: positiveInt.optional(),
        bufferMaxEntries: positiveInt.optional(),
        bufferMaxBytes: positiveInt.optional(),
        lagIntervalMs: positiveInt.optional()
      })
      .strict()
      .optional(),
    batcher: z
      .object({
        maxOps: positiveInt.optional(),
        maxBytes: positiveInt.optional(),
        maxFillMs: z.number().nonnegative().optional(),
        outputMaxBatches: positiveInt.optional()
      })
      .strict()
      .optional(),
    applier: z
      .object({
        lanes: positiveInt.optional(),
        maxBatchesInFlight: positiveInt.optional(),
        conflictPolicy: z.enum(['ignore', 'upsert', 'fail']).optional(),
        uniqueConflictPolicy: z.enum(['fail', 'ignore']).optional()
      })
      .strict()
      .optional(),
    full: z
      .object({
        indexes: z.enum(['before', 'after', 'none']).optional(),
        onExistingTarget: z.enum(['fail', 'drop', 'append']).optional(),
        onDuplicate: z.enum(['fail', 'replace']).optional(),
        spoolDir: z.string().min(1).optional(),
        splitter: z
          .object({
            maxRangesPerCollection: positiveInt.optional(),
            minDocumentsPerRange: positiveInt.optional(),
            samplesPerRange: positiveInt.optional()
          })
          .strict()
          .optional(),
        executor: z
          .object({
            readers: positiveInt.optional(),
            writers: positiveInt.optional(),
            readBatchSize: positiveInt.optional(),
            chunkDocuments: positiveInt.optional(),
            chunkBytes: positiveInt.optional(),
            bufferMaxChunks: positiveInt.optional(),
            bufferMaxBytes: positiveInt.optional()
          })
          .strict()
          .optional()
      })
      .strict()
      .optional()
  })
  .strict();

/**
 * What a config file holds.
 * @internal
 */
export type ConfigFile = z.infer<typeof configFileSchema>;

/**
 * The flags `run` and `verify` share with the config file (flags win).
 * @internal
 */
export interface ConfigFlags {
  config?: string;
  source?: string;
  target?: string;
  mode?: string;
  fetchMethod?: string;
  transactions?: string;
  startAt?: string;
  include?: string[];
  exclude?: string[];
  rename?: string[];
  checkpointName?: string;
  checkpointDir?: string;
  spoolDir?: string;
  lanes?: string;
  onExistingTarget?: string;
  indexes?: string;
  /** `--no-bypass-document-validation` sets this to false. */
  bypassDocumentValidation?: boolean;
  standby?: boolean;
  leaseTtl?: string;
  /** `--target-sharding`: `targetSharding`. */
  targetSharding?: string;
  /** `--shard-worker-group`: `shardWorker.group`. */
  shardWorkerGroup?: string;
  /** `--shards` (comma-separated): `shardWorker.shards`. */
  shards?: string;
  /** `--skip` (repeatable): operations not applied; replaces `filter.skip` of the file. */
  skip?: string[];
  /** `--max-ops-per-second`: `rateLimit.opsPerSecond`. */
  maxOpsPerSecond?: string;
  /** `--max-bytes-per-second`: `rateLimit.bytesPerSecond`. */
  maxBytesPerSecond?: string;
}

/** Reads and checks the config file; a parse or shape error names the file and the field. */
async function loadConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new InvalidConfigError('config', `cannot read ${path} (${reason})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError(
      'config',
      `${path} is not valid JSON: ${(error as Error).message}`
    );
  }
  const parsed = configFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'config';
    // zod's message never holds the offending value, so a URI cannot leak through it.
    throw new InvalidConfigError(field, `${issue.message} (in ${path})`);
  }
  return parsed.data;
}

const UINT32_MAX = 0xffff_ffff;

function parseTimestamp(field: string, value: ConfigFile['startAt']): Timestamp | 'latest' {
  if (value === undefined || value === 'latest') return 'latest';
  const [t, i] = typeof value === 'string' ? value.split(':').map(Number) : [value.t, value.i];
  const part = (n: number | undefined) =>
    n !== undefined && Number.isSafeInteger(n) && n >= 0 && n <= UINT32_MAX;
  if (!part(t) || !part(i)) {
    throw new InvalidConfigError(
      field,
      'must be "latest" or "<seconds>:<increment>", each a 32-bit unsigned integer'
    );
  }
  return new Timestamp({ t: t!, i: i! });
}

function parseRename(pairs: string[]): Record<string, string> {
  const rename: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) {
      throw new InvalidConfigError(
        'rename',
        `"${pair}" must be "from=to", such as shop.*=shop_copy.*`
      );
    }
    rename[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return rename;
}

function positive(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidConfigError(field, 'must be a positive integer');
  return n;
}

/** `{[key]: n}` for a flag holding a number above 0, `{}` when it is absent. */
function positiveNumber<K extends string>(
  flag: string,
  key: K,
  value: string | undefined
): Partial<Record<K, number>> {
  if (value === undefined) return {};
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidConfigError(flag, 'must be a number > 0');
  return { [key]: n } as Partial<Record<K, number>>;
}

/**
 * The Replicator options a command runs with, and where its checkpoints are.
 * @internal
 */
export interface ResolvedCliConfig {
  readonly options: ReplicatorOptions;
  /** The file store when `checkpoint.dir` / `--checkpoint-dir` is set; else the target's. */
  readonly checkpointStore: CheckpointStore | undefined;
}

/**
 * Merges the config file and the flags (flags win) into Replicator options. The Replicator's
 * own validation runs when the caller constructs it; this only shapes and checks the input.
 * @throws {@link InvalidConfigError} naming the field
 * @internal
 */
export async function resolveCliConfig(flags: ConfigFlags): Promise<ResolvedCliConfig> {
  const file: ConfigFile = flags.config ? await loadConfigFile(flags.config) : {};
  const source = flags.source ?? file.source;
  const target = flags.target ?? file.target;
  if (source === undefined)
    throw new InvalidConfigError('source', 'is required (--source or "source" in the config file)');
  if (target === undefined)
    throw new InvalidConfigError('target', 'is required (--target or "target" in the config file)');
  const filter = {
    ...file.filter,
    ...(flags.include?.length ? { include: flags.include } : {}),
    ...(flags.exclude?.length ? { exclude: flags.exclude } : {}),
    ...(flags.rename?.length
      ? { rename: { ...file.filter?.rename, ...parseRename(flags.rename) } }
      : {}),
    ...(flags.skip?.length ? { skip: flags.skip } : {})
  };
  const rateLimit = {
    ...file.rateLimit,
    ...positiveNumber('max-ops-per-second', 'opsPerSecond', flags.maxOpsPerSecond),
    ...positiveNumber('max-bytes-per-second', 'bytesPerSecond', flags.maxBytesPerSecond)
  };
  const checkpointDir = flags.checkpointDir ?? file.checkpoint?.dir;
  const checkpointStore = checkpointDir ? new FileCheckpointStore(checkpointDir) : undefined;
  const name = flags.checkpointName ?? file.checkpoint?.name ?? replicatorDefaults.checkpointName;
  const lanes = positive('lanes', flags.lanes);
  const leaseTtl = positive('lease-ttl', flags.leaseTtl);
  const startAt = flags.startAt ?? file.startAt;
  if (typeof startAt === 'string' && startAt !== 'latest' && !/^\d+:\d+$/.test(startAt)) {
    throw new InvalidConfigError('startAt', 'must be "latest" or "<seconds>:<increment>"');
  }
  const { dir: _dir, ...checkpointRest } = file.checkpoint ?? {};
  const options = {
    source,
    target,
    ...((flags.mode ?? file.mode)
      ? { mode: (flags.mode ?? file.mode) as ReplicatorOptions['mode'] }
      : {}),
    ...((flags.fetchMethod ?? file.fetchMethod)
      ? { fetchMethod: (flags.fetchMethod ?? file.fetchMethod) as ReplicatorOptions['fetchMethod'] }
      : {}),
    ...((flags.transactions ?? file.transactions)
      ? {
          transactions: (flags.transactions ??
            file.transactions) as ReplicatorOptions['transactions']
        }
      : {}),
    startAt: parseTimestamp('startAt', startAt),
    bypassDocumentValidation: flags.bypassDocumentValidation ?? file.bypassDocumentValidation,
    standby: flags.standby ?? file.standby,
    ...(flags.leaseTtl !== undefined || file.lease
      ? { lease: { ...file.lease, ...(leaseTtl ? { ttlMs: leaseTtl } : {}) } }
      : {}),
    filter,
    ...shardWorkerOf(flags, file.shardWorker),
    ...((flags.targetSharding ?? file.targetSharding)
      ? {
          targetSharding: (flags.targetSharding ??
            file.targetSharding) as ReplicatorOptions['targetSharding']
        }
      : {}),
    ...(Object.keys(rateLimit).length > 0 ? { rateLimit } : {}),
    checkpoint: { ...checkpointRest, name, ...(checkpointStore ? { store: checkpointStore } : {}) },
    ...(file.fetcher ? { fetcher: file.fetcher } : {}),
    ...(file.batcher ? { batcher: file.batcher } : {}),
    ...(file.applier || lanes ? { applier: { ...file.applier, ...(lanes ? { lanes } : {}) } } : {}),
    full: {
      ...file.full,
      ...(flags.spoolDir ? { spoolDir: flags.spoolDir } : {}),
      ...(flags.onExistingTarget
        ? { onExistingTarget: flags.onExistingTarget as 'fail' | 'drop' | 'append' }
        : {}),
      ...(flags.indexes ? { indexes: flags.indexes as 'before' | 'after' | 'none' } : {})
    }
  };
  // zod marks absent fields `undefined`; the options want them absent. The Replicator checks
  // every value when it is constructed.
  return { options: withoutUndefined(options) as ReplicatorOptions, checkpointStore };
}

/** A copy without `undefined` fields, recursively through plain objects. */
function withoutUndefined(value: unknown): unknown {
  if (
    value === null ||
    typeof value !== 'object' ||
    Object.getPrototypeOf(value) !== Object.prototype
  ) {
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field !== undefined) out[key] = withoutUndefined(field);
  }
  return out;
}

/** `shardWorker` from `--shard-worker-group` and `--shards` (both, or neither) over the file's. */
function shardWorkerOf(
  flags: Pick<ConfigFlags, 'shardWorkerGroup' | 'shards'>,
  file: { group: string; shards: string[] } | undefined
): { shardWorker?: { group: string; shards: string[] } } {
  const group = flags.shardWorkerGroup ?? file?.group;
  const shards =
    flags.shards === undefined
      ? file?.shards
      : flags.shards
          .split(',')
          .map(shard => shard.trim())
          .filter(shard => shard.length > 0);
  if (group === undefined && shards === undefined) return {};
  if (group === undefined || shards === undefined) {
    throw new InvalidConfigError(
      'shardWorker',
      'give both --shard-worker-group and --shards (or shardWorker.group and shardWorker.shards)'
    );
  }
  return { shardWorker: { group, shards } };
}
