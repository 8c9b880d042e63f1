/**
 * Pre- and post-images of documents in collections with `changeStreamPreAndPostImages:
 * {enabled: true}` (MongoDB 6.0+). mongod writes the pre-image of every update, replace and
 * delete to `config.system.preimages` under `{nsUUID, ts, applyOpsIndex}` (the oplog entry's `ts`
 * and the operation's index in an `applyOps`, 0 otherwise), and change streams read it for
 * `fullDocumentBeforeChange`; for `fullDocument: 'whenAvailable'|'required'` they apply the
 * update to it. The test server keeps both images in memory (the post-image is what applying the
 * update gives) and never expires them.
 */
import { type Binary, type Timestamp } from 'bson';

import { type BDoc, isDoc } from '../bson/values.js';
import { type Collection } from './collection.js';

/** The images of one write: the document before, and after for an update or replace. */
export interface DocumentImages {
  readonly pre: BDoc;
  readonly post?: BDoc | undefined;
}

/** Where an operation's images are filed: mongod's pre-image `_id`. */
export interface ImageId {
  readonly ui: Binary;
  readonly ts: Timestamp;
  readonly applyOpsIndex: number;
}

function keyOf(id: ImageId): string {
  const uuid = Buffer.from(id.ui.buffer.subarray(0, id.ui.position)).toString('hex');
  return `${uuid}|${id.ts.t}|${id.ts.i}|${id.applyOpsIndex}`;
}

/** True when the collection records images of its writes. */
export function recordsImages(collection: Collection): boolean {
  const option = collection.options.get('changeStreamPreAndPostImages');
  return isDoc(option) && option.get('enabled') === true;
}

export class ChangeStreamImages {
  readonly #images = new Map<string, DocumentImages>();

  record(id: ImageId, images: DocumentImages): void {
    this.#images.set(keyOf(id), images);
  }

  get(id: ImageId): DocumentImages | undefined {
    return this.#images.get(keyOf(id));
  }
}
