/**
 * `collMod`'s `index` option as mongod 6.0/7.0 processes it (coll_mod.cpp `parseCollModRequest`,
 * coll_mod_index.cpp): `expireAfterSeconds` and `hidden`, and the two-step conversion of an
 * index to unique: `prepareUnique: true` first (new duplicate keys are refused from then on,
 * existing ones stay), then `unique: true`, which scans the index and fails with 359
 * CannotConvertIndexToUnique and the `violations` (`[{ids: [...]}, …]`, one group per duplicated
 * key in index order) while duplicates remain, or makes the index unique (and drops
 * `prepareUnique`). `dryRun: true` (7.0) only reports. 7.0 also has `forceNonUnique: true`.
 * 4.4 and 5.0 know only `expireAfterSeconds` and `hidden`.
 */
import {
  type BDoc,
  type BValue,
  compareValues,
  isDoc,
  isNumber,
  toNumber,
  valuesEqualBinary,
  withCollation
} from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { type Collection, type IndexState } from './collection.js';
import { describeSpec } from './index-spec.js';
import { type VersionProfile } from './version-profiles.js';

/** An index change checked and ready to apply, with what it reports and logs. */
export interface IndexChange {
  readonly index: IndexState;
  /** The oplog entry's `index` field, or undefined when nothing changes (every part a no-op). */
  readonly logged: BDoc | undefined;
  /** `o2.indexOptions_old`. */
  readonly oldOptions: BDoc;
  /** Fields of the command reply (`hidden_old`, `unique_new`, …). */
  readonly reply: BDoc;
  /** Applies the change to the catalog. */
  apply(): void;
}

const INDEX_FIELDS_6 = [
  'keyPattern',
  'name',
  'expireAfterSeconds',
  'hidden',
  'unique',
  'prepareUnique'
];
const INDEX_FIELDS_7 = [...INDEX_FIELDS_6, 'forceNonUnique'];

function invalidOptions(message: string): ServerError {
  return new ServerError(72, message);
}

function bool(value: BValue): boolean {
  return value === true || (isNumber(value) && toNumber(value) !== 0);
}

/** The index a `{name}` or `{keyPattern}` request names (errors as parseCollModRequest). */
function findIndex(collection: Collection, request: BDoc): IndexState {
  const name = request.get('name');
  if (typeof name === 'string') {
    const index = collection.findIndex(name);
    if (!index) {
      throw new ServerError(27, `cannot find index ${name} for ns ${collection.ns}`);
    }
    return index;
  }
  const keyPattern = request.get('keyPattern');
  const found = collection.indexes.filter(index =>
    valuesEqualBinary(index.spec.get('key'), keyPattern)
  );
  if (found.length > 1) {
    throw new ServerError(
      181,
      `index keyPattern ${describeSpec(keyPattern as BDoc)} matches ${found.length} indexes, must use index name. Conflicting indexes:${describeSpec(found[0]!.spec)}, ${describeSpec(found[1]!.spec)}`
    );
  }
  if (found.length === 0) {
    throw new ServerError(
      27,
      `cannot find index ${describeSpec(keyPattern as BDoc)} for ns ${collection.ns}`
    );
  }
  return found[0]!;
}

/** A copy of `spec` with `field` removed, then appended with `value` (as the catalog does). */
function respec(spec: BDoc, field: string, value: BValue | undefined): BDoc {
  const next: BDoc = new Map([...spec].filter(([key]) => key !== field));
  if (value !== undefined) next.set(field, value);
  return next;
}

/** Checks a collMod `index` request and plans it; throws mongod's errors, changing nothing. */
export function planIndexChange(
  profile: VersionProfile,
  collection: Collection,
  request: BValue
): IndexChange {
  if (!isDoc(request)) {
    throw new ServerError(
      14,
      "BSON field 'collMod.index' is the wrong type, expected type 'object'"
    );
  }
  if (profile.maxWireVersion < 13) {
    // 4.4 parsed collMod by hand and read only these two fields.
    if (!request.has('expireAfterSeconds') && !request.has('hidden')) {
      throw invalidOptions('no expireAfterSeconds or hidden field');
    }
  } else {
    const known =
      profile.maxWireVersion >= 21
        ? INDEX_FIELDS_7
        : profile.maxWireVersion >= 17
          ? INDEX_FIELDS_6
          : INDEX_FIELDS_6.slice(0, 4);
    for (const field of request.keys()) {
      if (!known.includes(field)) {
        throw new ServerError(40415, `BSON field 'collMod.index.${field}' is an unknown field.`, {
          codeName: 'Location40415'
        });
      }
    }
  }
  if (request.has('name') && request.has('keyPattern')) {
    throw invalidOptions('Cannot specify both key pattern and name.');
  }
  if (!request.has('name') && !request.has('keyPattern')) {
    throw invalidOptions('Must specify either index name or key pattern.');
  }
  if (
    profile.maxWireVersion >= 13 &&
    !['expireAfterSeconds', 'hidden', 'unique', 'prepareUnique', 'forceNonUnique'].some(field =>
      request.has(field)
    )
  ) {
    throw invalidOptions(
      profile.maxWireVersion >= 17
        ? 'no expireAfterSeconds, hidden, unique, or prepareUnique field'
        : 'no expireAfterSeconds or hidden field'
    );
  }
  if (request.has('unique') && request.has('forceNonUnique')) {
    throw invalidOptions(
      "collMod does not support 'unique' and 'forceNonUnique' options at the same time"
    );
  }
  const index = findIndex(collection, request);
  const isId = index.name === '_id_';
  // mongod's `_id` index is unique (here its `unique` only says it is collated).
  const unique = isId || index.unique;
  let spec = index.spec;
  const changes = new Map<string, BValue>();
  const old = new Map<string, BValue>();

  if (request.has('expireAfterSeconds')) {
    const value = request.get('expireAfterSeconds');
    const previous = spec.get('expireAfterSeconds');
    if (previous === undefined && isId) {
      throw invalidOptions('the _id field does not support TTL indexes');
    }
    if (previous === undefined && index.keyPaths.length !== 1) {
      throw invalidOptions(
        'TTL indexes are single-field indexes, compound indexes do not support TTL'
      );
    }
    if (previous !== undefined) old.set('expireAfterSeconds', previous);
    spec = respec(spec, 'expireAfterSeconds', value);
    changes.set('expireAfterSeconds', value);
  }
  if (request.has('unique')) {
    if (!bool(request.get('unique'))) throw new ServerError(2, 'Cannot make index non-unique');
    // Converting a unique index is a no-op; any other needs prepareUnique first.
    if (!unique) {
      if (spec.get('prepareUnique') !== true) {
        throw invalidOptions(
          "Cannot make index unique with 'prepareUnique=false'. Run collMod to set it first."
        );
      }
      // The conversion resets prepareUnique.
      spec = respec(respec(spec, 'unique', true), 'prepareUnique', undefined);
      changes.set('unique', true);
    }
  }
  if (request.has('hidden')) {
    const hidden = bool(request.get('hidden'));
    if (isId) throw new ServerError(2, "can't hide _id index");
    const previous = spec.get('hidden') === true;
    if (previous !== hidden) {
      old.set('hidden', previous);
      spec = respec(spec, 'hidden', hidden ? true : undefined);
      changes.set('hidden', hidden);
    }
  }
  if (request.has('prepareUnique')) {
    const prepare = bool(request.get('prepareUnique'));
    const previous = index.spec.get('prepareUnique') === true;
    if (previous !== prepare && !unique) {
      old.set('prepareUnique', previous);
      spec = respec(spec, 'prepareUnique', prepare ? true : undefined);
      changes.set('prepareUnique', prepare);
    }
  }
  if (request.has('forceNonUnique')) {
    if (!bool(request.get('forceNonUnique'))) {
      throw new ServerError(2, "'forceNonUnique: false' is not supported");
    }
    if (unique && !isId) {
      spec = respec(spec, 'unique', undefined);
      changes.set('forceNonUnique', true);
    }
  }

  // The entry's `index` (makeCollModCmdObj), `indexOptions_old` and the reply, in mongod's order.
  const logged: BDoc = new Map<string, BValue>([['name', index.name]]);
  for (const field of [
    'expireAfterSeconds',
    'hidden',
    'unique',
    'prepareUnique',
    'forceNonUnique'
  ]) {
    if (changes.has(field)) logged.set(field, changes.get(field));
  }
  const oldOptions: BDoc = new Map();
  for (const field of ['expireAfterSeconds', 'hidden', 'prepareUnique']) {
    if (old.has(field)) oldOptions.set(field, old.get(field));
  }
  const reply: BDoc = new Map();
  if (changes.has('expireAfterSeconds')) {
    if (old.has('expireAfterSeconds'))
      reply.set('expireAfterSeconds_old', old.get('expireAfterSeconds'));
    reply.set('expireAfterSeconds_new', changes.get('expireAfterSeconds'));
  }
  if (changes.has('hidden')) {
    reply.set('hidden_old', old.get('hidden'));
    reply.set('hidden_new', changes.get('hidden'));
  }
  if (changes.has('unique')) reply.set('unique_new', true);
  if (changes.has('prepareUnique')) {
    reply.set('prepareUnique_old', old.get('prepareUnique'));
    reply.set('prepareUnique_new', changes.get('prepareUnique'));
  }
  if (changes.has('forceNonUnique')) reply.set('forceNonUnique_new', true);

  const finalSpec = spec;
  return {
    index,
    logged: changes.size > 0 ? logged : undefined,
    oldOptions,
    reply,
    apply: () => {
      if (changes.size > 0) collection.respecIndex(index.name, finalSpec);
    }
  };
}

/**
 * `scanIndexForDuplicates` + `buildConvertUniqueErrorStatus`: the documents sharing a key, one
 * group per key in index order (`_id`s in natural order), as 359's `violations`.
 */
export function uniqueViolations(collection: Collection, index: IndexState): BDoc[] {
  const groups = new Map<string, { values: BValue[]; ids: BValue[] }>();
  for (const doc of collection.records.values()) {
    for (const entry of collection.indexEntries(index, doc)) {
      const group = groups.get(entry.key);
      if (group) group.ids.push(doc.get('_id'));
      else groups.set(entry.key, { values: entry.values, ids: [doc.get('_id')] });
    }
  }
  const directions = [...(index.spec.get('key') as BDoc).values()].map(direction =>
    isNumber(direction) && toNumber(direction) < 0 ? -1 : 1
  );
  const duplicated = [...groups.values()].filter(group => group.ids.length > 1);
  withCollation(index.collation, () =>
    duplicated.sort((a, b) => {
      for (let i = 0; i < a.values.length; i++) {
        const order = compareValues(a.values[i], b.values[i]) * directions[i]!;
        if (order !== 0) return order;
      }
      return 0;
    })
  );
  return duplicated.map(group => new Map<string, BValue>([['ids', group.ids]]));
}

/** The 359 error of a conversion that found duplicates. */
export function cannotConvert(violations: BDoc[]): ServerError {
  return new ServerError(
    359,
    'Cannot convert the index to unique. Please resolve conflicting documents before running collMod again.',
    { codeName: 'CannotConvertIndexToUnique', extra: { violations } }
  );
}

/** Refuses a unique conversion while duplicates exist (before anything is changed). */
export function checkConvertible(collection: Collection, change: IndexChange): void {
  if (!change.reply.has('unique_new')) return;
  const violations = uniqueViolations(collection, change.index);
  if (violations.length > 0) throw cannotConvert(violations);
}

/**
 * `dryRun: true` (7.0, `_processCollModDryRunMode`): only `index: {…, unique: true}`, nothing
 * else, and nothing changes; duplicates answer 359 as a real conversion would.
 */
export function dryRunUniqueConversion(
  profile: VersionProfile,
  collection: Collection,
  cmd: BDoc,
  isGeneric: (field: string) => boolean
): BDoc {
  const request = cmd.get('index');
  if (request === undefined) {
    throw invalidOptions('dry run mode requires an valid index modification.');
  }
  if (!isDoc(request) || !bool(request.get('unique') ?? false)) {
    throw invalidOptions('dry run mode requires an index modification with unique: true.');
  }
  const change = planIndexChange(profile, collection, request);
  const others = [...cmd.keys()].filter(
    key => key !== 'collMod' && key !== 'dryRun' && key !== 'index' && !isGeneric(key)
  );
  const indexChanges = ['expireAfterSeconds', 'hidden', 'prepareUnique', 'forceNonUnique'].filter(
    field => request.has(field)
  );
  if (others.length > 0 || indexChanges.length > 0) {
    throw invalidOptions(
      'unique: true cannot be combined with any other modification in dry run mode.'
    );
  }
  checkConvertible(collection, change);
  return new Map();
}
