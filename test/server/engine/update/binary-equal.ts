/**
 * mongod's `binaryEqual`: same BSON type and same bytes, field names included. This is stricter
 * than `valuesIdentical` for Decimal128 (1.0 and 1.00 differ) and is what $set no-op detection and
 * the oplog diff calculator compare with.
 */
import { Decimal128, Double } from 'bson';

import { type BValue, typeAlias, valuesIdentical } from '../../bson/values.js';

export function binaryEqual(a: BValue, b: BValue): boolean {
  if (a === b) return true;
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    const ib = b.entries();
    for (const [ka, va] of a) {
      const [kb, vb] = ib.next().value as [string, BValue];
      if (ka !== kb || !binaryEqual(va, vb)) return false;
    }
    return true;
  }
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => binaryEqual(v, b[i]));
  }
  if (typeAlias(a) !== typeAlias(b)) return false;
  if (a instanceof Decimal128) return Buffer.compare(a.bytes, (b as Decimal128).bytes) === 0;
  if (a instanceof Double) return Object.is(a.value, (b as Double).value);
  return valuesIdentical(a, b);
}
