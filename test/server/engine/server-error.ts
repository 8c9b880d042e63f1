/**
 * A command failure as mongod reports it: `{ok: 0, errmsg, code, codeName}` plus any extra fields
 * and error labels. Every engine module throws this; the command layer turns it into the reply.
 */

/**
 * mongod's code names (`src/mongo/base/error_codes.yml`), for the codes the test server raises and
 * the ones tests inject through `failCommand` (a code missing here is named `Location<code>`, as
 * mongod names codes it does not list).
 */
export const CODE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: 'InternalError',
  2: 'BadValue',
  4: 'NoSuchKey',
  5: 'GraphContainsCycle',
  6: 'HostUnreachable',
  7: 'HostNotFound',
  8: 'UnknownError',
  9: 'FailedToParse',
  10: 'CannotMutateObject',
  11: 'UserNotFound',
  12: 'UnsupportedFormat',
  13: 'Unauthorized',
  14: 'TypeMismatch',
  15: 'Overflow',
  16: 'InvalidLength',
  17: 'ProtocolError',
  18: 'AuthenticationFailed',
  20: 'IllegalOperation',
  21: 'EmptyArrayOperation',
  22: 'InvalidBSON',
  23: 'AlreadyInitialized',
  24: 'LockTimeout',
  25: 'RemoteValidationError',
  26: 'NamespaceNotFound',
  27: 'IndexNotFound',
  28: 'PathNotViable',
  29: 'NonExistentPath',
  30: 'InvalidPath',
  34: 'CannotBackfillArray',
  40: 'ConflictingUpdateOperators',
  43: 'CursorNotFound',
  46: 'LockBusy',
  47: 'NoMatchingDocument',
  48: 'NamespaceExists',
  50: 'MaxTimeMSExpired',
  51: 'ManualInterventionRequired',
  52: 'DollarPrefixedFieldName',
  53: 'InvalidIdField',
  54: 'NotSingleValueField',
  55: 'InvalidDBRef',
  56: 'EmptyFieldName',
  57: 'DottedFieldName',
  59: 'CommandNotFound',
  61: 'ShardKeyNotFound',
  62: 'OplogOperationUnsupported',
  63: 'StaleShardVersion',
  64: 'WriteConcernFailed',
  65: 'MultipleErrorsOccurred',
  66: 'ImmutableField',
  67: 'CannotCreateIndex',
  68: 'IndexAlreadyExists',
  70: 'ShardNotFound',
  71: 'ReplicaSetNotFound',
  72: 'InvalidOptions',
  73: 'InvalidNamespace',
  74: 'NodeNotFound',
  76: 'NoReplicationEnabled',
  77: 'OperationIncomplete',
  79: 'UnknownReplWriteConcern',
  85: 'IndexOptionsConflict',
  86: 'IndexKeySpecsConflict',
  89: 'NetworkTimeout',
  90: 'CallbackCanceled',
  91: 'ShutdownInProgress',
  93: 'InvalidReplicaSetConfig',
  94: 'NotYetInitialized',
  95: 'NotSecondary',
  96: 'OperationFailed',
  100: 'UnsatisfiableWriteConcern',
  103: 'NewReplicaSetConfigurationIncompatible',
  107: 'LockFailed',
  109: 'ConfigurationInProgress',
  111: 'NotExactValueField',
  112: 'WriteConflict',
  115: 'CommandNotSupported',
  116: 'DocTooLargeForCapped',
  117: 'ConflictingOperationInProgress',
  118: 'NamespaceNotSharded',
  120: 'OplogStartMissing',
  121: 'DocumentValidationFailure',
  123: 'NotAReplicaSet',
  125: 'CommandFailed',
  133: 'FailedToSatisfyReadPreference',
  134: 'ReadConcernMajorityNotAvailableYet',
  135: 'StaleTerm',
  136: 'CappedPositionLost',
  138: 'RemoteOplogStale',
  139: 'JSInterpreterFailure',
  143: 'CursorInUse',
  146: 'ExceededMemoryLimit',
  147: 'ZLibError',
  148: 'ReadConcernMajorityNotEnabled',
  150: 'StaleEpoch',
  151: 'OperationCannotBeBatched',
  152: 'OplogOutOfOrder',
  153: 'ChunkTooBig',
  161: 'IncompatibleCollationVersion',
  162: 'CollectionIsEmpty',
  165: 'ViewDepthLimitExceeded',
  166: 'CommandNotSupportedOnView',
  167: 'OptionNotSupportedOnView',
  168: 'InvalidPipelineOperator',
  171: 'CannotIndexParallelArrays',
  175: 'QueryPlanKilled',
  181: 'AmbiguousIndexKeyPattern',
  182: 'InvalidViewDefinition',
  189: 'PrimarySteppedDown',
  192: 'FailPointEnabled',
  197: 'InvalidIndexSpecificationOption',
  201: 'CannotBuildIndexKeys',
  202: 'NetworkInterfaceExceededTimeLimit',
  206: 'NoSuchSession',
  207: 'InvalidUUID',
  209: 'StaleClusterTime',
  213: 'DuplicateSession',
  215: 'DatabaseDropPending',
  216: 'ElectionInProgress',
  217: 'IncompleteTransactionHistory',
  218: 'UpdateOperationFailed',
  221: 'IndexModified',
  222: 'CloseChangeStream',
  225: 'TransactionTooOld',
  226: 'AtomicityFailure',
  232: 'MaxSubPipelineDepthExceeded',
  234: 'RetryChangeStream',
  237: 'CursorKilled',
  238: 'NotImplemented',
  239: 'SnapshotTooOld',
  241: 'ConversionFailure',
  242: 'CannotCreateCollection',
  246: 'SnapshotUnavailable',
  249: 'StaleDbVersion',
  250: 'StaleChunkHistory',
  251: 'NoSuchTransaction',
  256: 'TransactionCommitted',
  257: 'TransactionTooLarge',
  260: 'InvalidResumeToken',
  261: 'TooManyLogicalSessions',
  262: 'ExceededTimeLimit',
  263: 'OperationNotSupportedInTransaction',
  267: 'PreparedTransactionInProgress',
  272: 'MigrationConflict',
  276: 'IndexBuildAborted',
  279: 'ClientDisconnect',
  280: 'ChangeStreamFatalError',
  285: 'IndexBuildAlreadyInProgress',
  286: 'ChangeStreamHistoryLost',
  290: 'TransactionExceededLifetimeLimitSeconds',
  291: 'NoQueryExecutionPlans',
  292: 'QueryExceededMemoryLimitNoDiskUseAllowed',
  322: 'APIVersionError',
  323: 'APIStrictError',
  324: 'APIDeprecationError',
  343: 'ShardCannotRefreshDueToLocksHeld',
  352: 'UnsupportedOpQueryCommand',
  358: 'InternalTransactionNotSupported',
  9001: 'SocketException',
  10058: 'LegacyNotPrimary',
  10107: 'NotWritablePrimary',
  10334: 'BSONObjectTooLarge',
  11000: 'DuplicateKey',
  11600: 'InterruptedAtShutdown',
  11601: 'Interrupted',
  11602: 'InterruptedDueToReplStateChange',
  12586: 'BackgroundOperationInProgressForDatabase',
  12587: 'BackgroundOperationInProgressForNamespace',
  13113: 'MergeStageNoMatchingDocument',
  13297: 'DatabaseDifferCase',
  13388: 'StaleConfig',
  13435: 'NotPrimaryNoSecondaryOk',
  13436: 'NotPrimaryOrSecondary',
  14031: 'OutOfDiskSpace',
  15974: 'Location15974',
  16410: 'Location16410',
  17419: 'Location17419',
  28667: 'Location28667',
  31249: 'Location31249',
  31250: 'Location31250',
  40324: 'Location40324',
  40415: 'Location40415',
  40573: 'Location40573',
  46841: 'ClientMarkedKilled',
  50915: 'BackupCursorOpenConflictWithCheckpoint'
});

/** A mongod-shaped command error. */
export class ServerError extends Error {
  readonly code: number;
  readonly codeName: string;
  readonly labels: string[];
  /** Extra reply fields, e.g. `keyPattern`/`keyValue` of a duplicate key or `errInfo`. */
  readonly extra: Record<string, unknown>;

  constructor(
    code: number,
    errmsg: string,
    options: { codeName?: string; labels?: string[]; extra?: Record<string, unknown> } = {}
  ) {
    super(errmsg);
    this.code = code;
    this.codeName = options.codeName ?? CODE_NAMES[code] ?? `Location${code}`;
    this.labels = options.labels ?? [];
    this.extra = options.extra ?? {};
  }

  override get name(): string {
    return 'ServerError';
  }
}

/** Shorthand for the common `BadValue` (2) failure. */
export function badValue(message: string): ServerError {
  return new ServerError(2, message);
}

/**
 * A query planning failure as find reports it: the planner's reason behind mongod's prefix
 * (mongod also prints the canonical query there; tests should match the reason and the code).
 */
export function plannerError(code: number, ns: string, reason: string): ServerError {
  return new ServerError(
    code,
    `error processing query: ns=${ns} planner returned error :: caused by :: ${reason}`
  );
}

/** Shorthand for `FailedToParse` (9). */
export function failedToParse(message: string): ServerError {
  return new ServerError(9, message);
}

/** Shorthand for `TypeMismatch` (14). */
export function typeMismatch(message: string): ServerError {
  return new ServerError(14, message);
}

/**
 * An option or operator the test server does not implement: refusing it is better than silently
 * returning results that differ from mongod's.
 */
export function notImplemented(what: string): ServerError {
  return new ServerError(238, `${what} is not supported by the mongo-replicate test server`);
}
