/**
 * The command's log sink: human-readable lines or one JSON object per line, on stderr (stdout
 * is kept for results: reports, checkpoints), every message and field redacted.
 */
import { type Logger, redactingLogger } from '../logger.js';

/**
 * `text`: `2026-11-23T08:00:00.000Z INFO message key=value`; `json`: one object per line.
 * @internal
 */
export type LogFormat = 'text' | 'json';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** JSON.stringify that turns BSON values and errors into something readable. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value !== null && typeof value === 'object' && '_bsontype' in value) {
    const bson = value as { _bsontype: string; toString(): string; t?: number; i?: number };
    if (bson._bsontype === 'Timestamp') return `${bson.t}:${bson.i}`;
    return bson.toString();
  }
  return value;
}

/**
 * A logger writing to `write` (stderr by default) at `level` and above.
 * @internal
 */
export function cliLogger(
  format: LogFormat,
  options: { verbose?: boolean; write?: (line: string) => void } = {}
): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const min = options.verbose ? 0 : 1;
  const sink = {} as Record<(typeof LEVELS)[number], Logger['info']>;
  LEVELS.forEach((level, rank) => {
    sink[level] = (message, fields) => {
      if (rank < min) return;
      const time = new Date().toISOString();
      if (format === 'json') {
        write(JSON.stringify({ time, level, msg: message, ...fields }, jsonValue));
        return;
      }
      const extra = fields
        ? Object.entries(fields)
            .map(([key, value]) => `${key}=${JSON.stringify(value, jsonValue)}`)
            .join(' ')
        : '';
      write(`${time} ${level.toUpperCase()} ${message}${extra ? ` ${extra}` : ''}`);
    };
  });
  return redactingLogger(sink);
}

/**
 * Writes one structured record (a progress line, a summary) in the chosen format.
 * @internal
 */
export function jsonLine(record: Record<string, unknown>): string {
  return JSON.stringify({ time: new Date().toISOString(), ...record }, jsonValue);
}
