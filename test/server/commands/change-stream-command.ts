/** `aggregate` with `$changeStream` as its first stage (collection, database or cluster streams). */
import { type BDoc, compareValues } from '../bson/values.js';
import { ChangeStreamSource } from '../change-streams/change-stream-source.js';
import { parseChangeStream } from '../change-streams/change-stream-spec.js';
import { highWaterMark, nextTick } from '../change-streams/resume-token.js';
import { type CommandContext, type ReplyBody } from './context.js';
import { cursorReply } from './query.js';

/** Opens a change-stream cursor and returns the aggregate reply. */
export function openChangeStream(
  ctx: CommandContext,
  pipeline: BDoc[],
  batchSize: number | undefined
): ReplyBody {
  const { mongod } = ctx;
  const maxWireVersion = mongod.profile.maxWireVersion;
  const target = ctx.cmd.get('aggregate');
  const spec = parseChangeStream(pipeline, {
    db: ctx.db,
    target,
    replicaSet: mongod.replSetName.length > 0,
    maxWireVersion
  });
  // 6.0 switched event tokens to version 2 (eventIdentifier = {operationType, documentKey|…}).
  const defaultVersion = maxWireVersion >= 17 ? 2 : 1;
  const token = spec.resumeAfter ?? spec.startAfter;
  // Without a start option mongod starts one tick after the last applied optime.
  const startTs =
    token?.clusterTime ?? spec.startAtOperationTime ?? nextTick(mongod.oplog.lastTimestamp);
  const source = new ChangeStreamSource({
    mongod,
    db: ctx.db,
    startTs,
    resumeToken: token,
    initialToken: token?.hex ?? highWaterMark(startTs, defaultVersion),
    defaultVersion,
    userStages: spec.userStages,
    fullDocumentBeforeChange: spec.fullDocumentBeforeChange,
    settings: {
      scope: spec.scope,
      showExpandedEvents: spec.showExpandedEvents,
      wallTime: maxWireVersion >= 17,
      disambiguatedPaths: spec.showExpandedEvents && maxWireVersion >= 18,
      fullDocument: spec.fullDocument,
      // Until the stream passes the resumed token, events keep that token's version so that
      // they compare equal to it (ChangeStreamEventTransformation::makeResumeToken).
      tokenVersion: (clusterTime, txnOpIndex) =>
        token &&
        !(compareValues(clusterTime, token.clusterTime) > 0 || txnOpIndex > token.txnOpIndex)
          ? token.version
          : defaultVersion
    }
  });
  const ns =
    spec.scope.kind === 'collection' ? `${ctx.db}.${spec.scope.coll}` : `${ctx.db}.$cmd.aggregate`;
  // Not `tailable`: the registry keeps tailable cursors open when their source is exhausted, but
  // an invalidate must close the cursor (id 0). awaitData alone gives getMore its maxTimeMS wait.
  const opened = mongod.cursors.open(ns, source, { batchSize, awaitData: true });
  return cursorReply(opened, ns, true);
}
