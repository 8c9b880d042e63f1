/** Date part operators, in UTC only (a non-UTC timezone is refused, not approximated). */
import { Int32, ObjectId, Timestamp } from 'bson';

import { type BValue, isDoc } from '../../bson/values.js';
import { notImplemented, ServerError } from '../server-error.js';
import { type Compiled, isNullish, type OperatorParser, type Value } from './expr-core.js';
import { typeName } from './format.js';

/** Value::coerceToDate: dates, timestamps (seconds) and ObjectIds (creation time). */
export function coerceToDate(v: Value): Date {
  if (v instanceof Date) return v;
  if (v instanceof Timestamp) return new Date(v.t * 1000);
  if (v instanceof ObjectId) return new Date(v.getTimestamp().getTime());
  throw new ServerError(16006, `can't convert from BSON type ${typeName(v)} to Date`);
}

const UTC_NAMES = new Set([
  'UTC',
  'GMT',
  'Etc/UTC',
  'Etc/GMT',
  'Z',
  '+00:00',
  '+0000',
  '+00',
  '-00:00'
]);

function datePart(extract: (d: Date) => number): OperatorParser {
  return (arg, p, name) => {
    let dateExpr: BValue = arg;
    let tz: Compiled | undefined;
    if (Array.isArray(arg)) {
      if (arg.length !== 1) {
        throw new ServerError(
          40536,
          `${name} accepts exactly one argument if given an array, but was given ${arg.length}`
        );
      }
      dateExpr = arg[0]!;
    } else if (isDoc(arg) && !([...arg.keys()][0] ?? '').startsWith('$')) {
      for (const key of arg.keys()) {
        if (key !== 'date' && key !== 'timezone') {
          throw new ServerError(
            40535,
            `unrecognized option to ${name}: "${key}". Options are "date" and "timezone".`
          );
        }
      }
      if (!arg.has('date'))
        throw new ServerError(
          40539,
          `missing 'date' argument to ${name}, provided: ${[...arg.keys()].join(', ')}`
        );
      dateExpr = arg.get('date')!;
      if (arg.has('timezone')) tz = p.compile(arg.get('timezone')!);
    }
    const date = p.compile(dateExpr);
    return s => {
      const v = date(s);
      if (tz) {
        const zone = tz(s);
        if (isNullish(zone)) return null;
        if (typeof zone !== 'string') {
          throw new ServerError(
            40517,
            `timezone must evaluate to a string, found ${typeName(zone)}`
          );
        }
        if (!UTC_NAMES.has(zone)) throw notImplemented(`timezone '${zone}' in ${name}`);
      }
      if (isNullish(v)) return null;
      return new Int32(extract(coerceToDate(v)));
    };
  };
}

function dayOfYear(d: Date): number {
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  return Math.floor((d.getTime() - start) / 86400000) + 1;
}

export const DATE_OPERATORS: Record<string, OperatorParser> = {
  $year: datePart(d => d.getUTCFullYear()),
  $month: datePart(d => d.getUTCMonth() + 1),
  $dayOfMonth: datePart(d => d.getUTCDate()),
  $hour: datePart(d => d.getUTCHours()),
  $minute: datePart(d => d.getUTCMinutes()),
  $second: datePart(d => d.getUTCSeconds()),
  $millisecond: datePart(d => d.getUTCMilliseconds()),
  $dayOfWeek: datePart(d => d.getUTCDay() + 1),
  $dayOfYear: datePart(dayOfYear)
};
