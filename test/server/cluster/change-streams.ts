/**
 * Change streams on mongos (cluster_aggregate.cpp, AsyncResultsMerger with a sort on resume
 * tokens): one change stream per shard, each starting at the same cluster time, merged in resume
 * token order, which is cluster-time order. An event is returned only once every shard has
 * reported (its postBatchResumeToken) that it has nothing earlier: an idle shard holds the merge
 * back until its oplog moves, which is what mongod's periodic no-op writer is for. The shards skip
 * `fromMigrate` entries (migrations and range deletions), so chunk moves stay invisible. Resuming
 * starts every shard at the token's cluster time; mongos drops the events up to the token and
 * fails with 280 if an event token was never seen, as DocumentSourceChangeStreamEnsureResumeToken-
 * Present does on mongos. `fullDocument: 'updateLookup'` reads the document from the shard that
 * owns it now.
 */
import { type BDoc, isDoc, valuesIdentical } from '../bson/values.js';
import { compareValues } from '../bson/values.js';
import { ChangeStreamSource } from '../change-streams/change-stream-source.js';
import { parseChangeStream } from '../change-streams/change-stream-spec.js';
import { type EventSettings } from '../change-streams/events.js';
import {
  describeToken,
  HIGH_WATER_MARK,
  highWaterMark,
  nextTick,
  type ParsedToken,
  tokenDocument
} from '../change-streams/resume-token.js';
import { type ReplyBody } from '../commands/context.js';
import { cursorReply } from '../commands/query.js';
import { runPipeline } from '../engine/aggregate/pipeline.js';
import { ServerError } from '../engine/server-error.js';
import { type CursorSource } from '../mongod/cursors.js';
import { type Router, type RouterContext } from './router.js';

const NON_RESUMABLE = ['NonResumableChangeStreamError'];

interface ShardStream {
  readonly id: string;
  readonly source: ChangeStreamSource;
  readonly events: BDoc[];
  pbrt: string;
}

function tokenOf(event: BDoc): string {
  const id = event.get('_id');
  return isDoc(id) ? String(id.get('_data')) : '';
}

function pbrtOf(source: ChangeStreamSource): string {
  return String(source.postBatchResumeToken().get('_data'));
}

class MergedChangeStream implements CursorSource {
  #pbrt: string;
  #closed = false;
  #resumePending: boolean;

  constructor(
    private readonly router: Router,
    private readonly streams: ShardStream[],
    private readonly options: {
      readonly db: string;
      readonly resumeToken: ParsedToken | undefined;
      readonly userStages: BDoc[];
      readonly updateLookup: boolean;
      readonly initialToken: string;
    }
  ) {
    this.#pbrt = options.initialToken;
    this.#resumePending = options.resumeToken !== undefined;
  }

  next(limit: number): { docs: BDoc[]; exhausted: boolean } {
    if (this.#closed) return { docs: [], exhausted: true };
    for (const stream of this.streams) {
      const { docs } = stream.source.next(Number.MAX_SAFE_INTEGER);
      stream.events.push(...docs);
      stream.pbrt = pbrtOf(stream.source);
    }
    const highWater = this.streams.reduce(
      (min, stream) => (stream.pbrt < min ? stream.pbrt : min),
      this.streams[0]!.pbrt
    );
    const out: BDoc[] = [];
    while (out.length < limit && !this.#closed) {
      let next: ShardStream | undefined;
      for (const stream of this.streams) {
        const head = stream.events[0];
        if (!head || tokenOf(head) > highWater) continue;
        if (!next || tokenOf(head) < tokenOf(next.events[0]!)) next = stream;
      }
      if (!next) break;
      const event = next.events.shift()!;
      const token = tokenOf(event);
      if (this.#swallowedByResume(token)) continue;
      if (event.get('operationType') === 'invalidate') this.#closed = true;
      if (this.options.updateLookup && event.get('operationType') === 'update') {
        event.set('fullDocument', this.#lookup(event));
      }
      out.push(...this.#userStages(event, token));
      this.#pbrt = token;
    }
    const drained = this.streams.every(
      stream => stream.events.length === 0 || tokenOf(stream.events[0]!) > highWater
    );
    if (drained && highWater > this.#pbrt) this.#pbrt = highWater;
    return { docs: out, exhausted: this.#closed };
  }

  onReadable(listener: () => void): () => void {
    const unsubscribe = this.streams.map(stream => stream.source.onReadable(listener));
    return () => unsubscribe.forEach(fn => fn());
  }

  postBatchResumeToken(): BDoc {
    return tokenDocument(this.#pbrt);
  }

  #swallowedByResume(token: string): boolean {
    const resume = this.options.resumeToken;
    if (!this.#resumePending || !resume) return false;
    if (token < resume.hex) return true;
    this.#resumePending = false;
    if (token === resume.hex) return true;
    if (resume.tokenType !== HIGH_WATER_MARK) {
      throw new ServerError(
        280,
        `cannot resume stream; the resume token was not found. ${describeToken(tokenDocument(token))}`,
        { labels: NON_RESUMABLE }
      );
    }
    return false;
  }

  /** updateLookup on mongos: the current document, from the shard that owns it. */
  #lookup(event: BDoc): BDoc | null {
    const ns = event.get('ns');
    const key = event.get('documentKey');
    if (!isDoc(ns) || !isDoc(key)) return null;
    const db = String(ns.get('db'));
    const coll = String(ns.get('coll'));
    const sharded = this.router.catalog.collection(`${db}.${coll}`);
    const owner = sharded
      ? this.router.catalog.chunkFor(sharded, sharded.key.keyOfDocument(key)).shard
      : this.router.catalog.primaryOf(db);
    return (
      this.router.shard(owner).mongod.catalog.collection(db, coll)?.get(key.get('_id')) ?? null
    );
  }

  #userStages(event: BDoc, token: string): BDoc[] {
    const stages = this.options.userStages;
    if (stages.length === 0) return [event];
    const outputs = runPipeline([event], stages, {
      dbName: this.options.db,
      resolveCollection: () => []
    });
    const expected = tokenDocument(token);
    for (const output of outputs) {
      if (!valuesIdentical(output.get('_id'), expected)) {
        throw new ServerError(
          280,
          'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.',
          { labels: NON_RESUMABLE }
        );
      }
    }
    return outputs;
  }
}

/** `aggregate` with `$changeStream` first, on mongos. */
export function openClusterChangeStream(
  ctx: RouterContext,
  pipeline: BDoc[],
  batchSize: number | undefined
): ReplyBody {
  const { router } = ctx;
  const maxWireVersion = router.profile.maxWireVersion;
  const target = ctx.cmd.get('aggregate');
  const spec = parseChangeStream(pipeline, {
    db: ctx.db,
    target,
    replicaSet: true,
    maxWireVersion
  });
  const defaultVersion = maxWireVersion >= 17 ? 2 : 1;
  const token = spec.resumeAfter ?? spec.startAfter;
  // Without a start option, the stream starts just after the cluster time it opens at.
  const startTs = token?.clusterTime ?? spec.startAtOperationTime ?? nextTick(router.clock.last);
  const settings: EventSettings = {
    scope: spec.scope,
    showExpandedEvents: spec.showExpandedEvents,
    wallTime: maxWireVersion >= 17,
    disambiguatedPaths: spec.showExpandedEvents && maxWireVersion >= 18,
    // The shards fill the field in; mongos then looks the document up from its owner.
    fullDocument: spec.fullDocument,
    tokenVersion: (clusterTime, txnOpIndex) =>
      token && !(compareValues(clusterTime, token.clusterTime) > 0 || txnOpIndex > token.txnOpIndex)
        ? token.version
        : defaultVersion
  };
  const initialToken = highWaterMark(startTs, defaultVersion);
  const streams: ShardStream[] = router.catalog.shardIds().map(id => ({
    id,
    source: new ChangeStreamSource({
      mongod: router.shard(id).mongod,
      db: ctx.db,
      startTs,
      resumeToken: undefined,
      initialToken,
      defaultVersion,
      userStages: [],
      fullDocumentBeforeChange: spec.fullDocumentBeforeChange,
      settings
    }),
    events: [],
    pbrt: initialToken
  }));
  const source = new MergedChangeStream(router, streams, {
    db: ctx.db,
    resumeToken: token,
    userStages: spec.userStages,
    updateLookup: spec.fullDocument === 'updateLookup',
    initialToken: token?.hex ?? initialToken
  });
  const ns =
    spec.scope.kind === 'collection' ? `${ctx.db}.${spec.scope.coll}` : `${ctx.db}.$cmd.aggregate`;
  const opened = router.cursors.open(ns, source, { batchSize, awaitData: true });
  return cursorReply(opened, ns, true);
}
