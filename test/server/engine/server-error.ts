/**
 * A command failure as mongod reports it: `{ok: 0, errmsg, code, codeName}` plus any extra fields
 * and error labels. Every engine module throws this; the command layer turns it into the reply.
 */

/** mongod's code names for the codes the test server uses (`error_codes.yml`). */
export const CODE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: 'InternalError',
  2: 'BadValue',
  4: 'NoSuchKey',
  6: 'HostUnreachable',
  7: 'HostNotFound',
  9: 'FailedToParse',
  11: 'UserNotFound',
  13: 'Unauthorized',
  14: 'TypeMismatch',
  16: 'InvalidLength',
  20: 'IllegalOperation',
  22: 'InvalidBSON',
  26: 'NamespaceNotFound',
  27: 'IndexNotFound',
  28: 'PathNotViable',
  40: 'ConflictingUpdateOperators',
  43: 'CursorNotFound',
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
  66: 'ImmutableField',
  67: 'CannotCreateIndex',
  68: 'IndexAlreadyExists',
  72: 'InvalidOptions',
  73: 'InvalidNamespace',
  85: 'IndexOptionsConflict',
  86: 'IndexKeySpecsConflict',
  89: 'NetworkTimeout',
  91: 'ShutdownInProgress',
  96: 'OperationFailed',
  100: 'UnsatisfiableWriteConcern',
  112: 'WriteConflict',
  115: 'CommandNotSupported',
  120: 'OplogStartMissing',
  121: 'DocumentValidationFailure',
  125: 'CommandFailed',
  136: 'CappedPositionLost',
  146: 'ExceededMemoryLimit',
  166: 'CommandNotSupportedOnView',
  167: 'OptionNotSupportedOnView',
  168: 'InvalidPipelineOperator',
  189: 'PrimarySteppedDown',
  197: 'InvalidIndexSpecificationOption',
  237: 'CursorKilled',
  238: 'NotImplemented',
  251: 'NoSuchTransaction',
  262: 'ExceededTimeLimit',
  263: 'OperationNotSupportedInTransaction',
  280: 'ChangeStreamFatalError',
  286: 'ChangeStreamHistoryLost',
  291: 'NoQueryExecutionPlans',
  352: 'UnsupportedOpQueryCommand',
  10107: 'NotWritablePrimary',
  11000: 'DuplicateKey',
  11600: 'InterruptedAtShutdown',
  11602: 'InterruptedDueToReplStateChange',
  13297: 'DatabaseDifferCase',
  15974: 'Location15974',
  16410: 'Location16410',
  17419: 'Location17419',
  28667: 'Location28667',
  31249: 'Location31249',
  31250: 'Location31250',
  40324: 'Location40324',
  40415: 'Location40415',
  40573: 'Location40573'
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
