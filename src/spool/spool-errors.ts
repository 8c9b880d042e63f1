/** The {@link SpoolError}s the oplog spool raises, with messages that say what to do. */
import { type Timestamp } from 'mongodb';

import { SpoolError } from '../errors.js';

/**
 * A segment that holds bytes which are not sound records, where no crash can have left them.
 * @internal
 */
export function corruptSegment(
  directory: string,
  path: string,
  offset: number,
  reason: string,
  lastGood: Timestamp | undefined
): SpoolError {
  return new SpoolError(`Oplog spool segment ${path} is corrupt at byte ${offset}: ${reason}`, {
    path,
    ...(lastGood === undefined ? {} : { optime: lastGood }),
    hint: `Delete the spool directory ${directory} and restart the full copy; the entries in it cannot be recovered`
  });
}

/**
 * A file operation of the spool failed.
 * @internal
 */
export function spoolIoError(what: string, path: string, cause: unknown): SpoolError {
  return new SpoolError(`Cannot ${what} ${path}`, {
    path,
    cause,
    hint: 'Check that the directory exists, is writable and has free space; reopening the spool drops a partly written record'
  });
}

/**
 * The spool was used after `close()`.
 * @internal
 */
export function spoolClosed(directory: string): SpoolError {
  return new SpoolError(`The oplog spool in ${directory} is closed`, {
    path: directory,
    hint: 'Open it again with OplogSpool.open() to use it'
  });
}
