/**
 * What changes with the emulated server version: the wire version the driver sees, and the oplog
 * formats a secondary (and so a replicator) must understand.
 */

/** A MongoDB release the test server can pretend to be. */
export interface VersionProfile {
  /** `buildInfo.version`. */
  readonly version: string;
  /** `featureCompatibilityVersion`. */
  readonly fcv: string;
  readonly maxWireVersion: number;
  /** 4.4 logs updates as `$v:1` `$set`/`$unset`; 5.0+ logs `$v:2` diffs. */
  readonly updateFormat: 'v1' | 'v2';
  /** 7.0 logs a multi-document delete as one batched `applyOps` entry. */
  readonly batchedDeletes: boolean;
  /** Before 5.1 mongod still executed commands sent as OP_QUERY; later ones answer 352. */
  readonly opQueryCommands: boolean;
  /** From 7.0, `drop` of a missing collection succeeds instead of answering NamespaceNotFound. */
  readonly dropMissingIsOk: boolean;
}

/** The versions `--version` accepts. */
export const VERSION_PROFILES: Readonly<Record<string, VersionProfile>> = Object.freeze({
  '4.4': {
    version: '4.4.29',
    fcv: '4.4',
    maxWireVersion: 9,
    updateFormat: 'v1',
    batchedDeletes: false,
    opQueryCommands: true,
    dropMissingIsOk: false
  },
  '5.0': {
    version: '5.0.31',
    fcv: '5.0',
    maxWireVersion: 13,
    updateFormat: 'v2',
    batchedDeletes: false,
    opQueryCommands: true,
    dropMissingIsOk: false
  },
  '6.0': {
    version: '6.0.20',
    fcv: '6.0',
    maxWireVersion: 17,
    updateFormat: 'v2',
    batchedDeletes: false,
    opQueryCommands: false,
    dropMissingIsOk: false
  },
  '7.0': {
    version: '7.0.16',
    fcv: '7.0',
    maxWireVersion: 21,
    updateFormat: 'v2',
    batchedDeletes: true,
    opQueryCommands: false,
    dropMissingIsOk: true
  }
});

/** The profile for a `--version` value such as `6.0`, or an error listing the valid ones. */
export function resolveVersionProfile(version: string): VersionProfile {
  const profile = VERSION_PROFILES[version];
  if (!profile) {
    throw new Error(
      `Unsupported test server version "${version}"; use one of ${Object.keys(VERSION_PROFILES).join(', ')}`
    );
  }
  return profile;
}
