/**
 * mongod's test fail points `failCommand` and `failGetMoreAfterCursorCheckout`, configured with
 * `configureFailPoint` exactly as on a mongod started with `enableTestCommands=1`.
 */
import { type BDoc, type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';

type Mode =
  | { kind: 'off' }
  | { kind: 'alwaysOn' }
  | { kind: 'times'; remaining: number }
  | { kind: 'skip'; remaining: number }
  | { kind: 'probability'; p: number };

/** What a triggered fail point does to one command. */
export interface FailAction {
  readonly closeConnection: boolean;
  readonly errorCode: number | undefined;
  readonly errorLabels: string[] | undefined;
  readonly writeConcernError: BDoc | undefined;
  readonly blockTimeMS: number;
}

interface FailPoint {
  mode: Mode;
  data: BDoc;
  timesEntered: number;
}

const NAMES = [
  'failCommand',
  'failGetMoreAfterCursorCheckout',
  // A sharded cluster's chunk migration pauses at these while they are on, as mongod's
  // MigrationSourceManager does (`moveChunkHangAtStepN.pauseWhileSet()`).
  'moveChunkHangAtStep3',
  'moveChunkHangAtStep4',
  'moveChunkHangAtStep5'
] as const;
type FailPointName = (typeof NAMES)[number];

function parseMode(mode: BValue): Mode {
  if (mode === 'off') return { kind: 'off' };
  if (mode === 'alwaysOn') return { kind: 'alwaysOn' };
  if (isDoc(mode)) {
    const times = mode.get('times');
    const skip = mode.get('skip');
    const p = mode.get('activationProbability');
    if (isNumber(times)) return { kind: 'times', remaining: toNumber(times) };
    if (isNumber(skip)) return { kind: 'skip', remaining: toNumber(skip) };
    if (isNumber(p)) return { kind: 'probability', p: toNumber(p) };
  }
  throw new ServerError(
    2,
    'Failpoint mode must be one of off, alwaysOn, or an object containing times, skip, or activationProbability'
  );
}

export class FailPoints {
  readonly #points = new Map<FailPointName, FailPoint>();

  /** `configureFailPoint`: returns how many times the fail point had fired. */
  configure(name: string, mode: BValue, data: BValue): number {
    if (!(NAMES as readonly string[]).includes(name)) {
      throw new ServerError(2, `Cannot find FailPoint named ${name}`);
    }
    const parsed = parseMode(mode);
    const payload = isDoc(data) ? data : new Map<string, BValue>();
    if (
      name === 'failCommand' &&
      parsed.kind !== 'off' &&
      !Array.isArray(payload.get('failCommands'))
    ) {
      throw new ServerError(2, "'failCommands' must be an array of command names");
    }
    const previous = this.#points.get(name as FailPointName);
    this.#points.set(name as FailPointName, { mode: parsed, data: payload, timesEntered: 0 });
    return previous?.timesEntered ?? 0;
  }

  /** The `failCommand` action for a command, if the fail point fires for it. */
  failCommand(
    command: string,
    db: string,
    coll: string | undefined,
    appName: string | undefined
  ): FailAction | undefined {
    const point = this.#points.get('failCommand');
    if (!point || point.mode.kind === 'off') return undefined;
    const data = point.data;
    const commands = (data.get('failCommands') as BValue[]).map(String);
    if (!commands.includes(command)) return undefined;
    const wantedApp = data.get('appName');
    if (typeof wantedApp === 'string' && wantedApp !== appName) return undefined;
    const namespace = data.get('namespace');
    if (typeof namespace === 'string' && namespace !== `${db}.${coll ?? ''}` && namespace !== db)
      return undefined;
    if (!this.#fire(point)) return undefined;
    const errorCode = data.get('errorCode');
    const labels = data.get('errorLabels');
    const wce = data.get('writeConcernError');
    return {
      closeConnection: data.get('closeConnection') === true,
      errorCode: isNumber(errorCode) ? toNumber(errorCode) : undefined,
      errorLabels: Array.isArray(labels) ? labels.map(String) : undefined,
      writeConcernError: isDoc(wce) ? wce : undefined,
      blockTimeMS:
        data.get('blockConnection') === true && isNumber(data.get('blockTimeMS'))
          ? toNumber(data.get('blockTimeMS'))
          : 0
    };
  }

  /** The error code `failGetMoreAfterCursorCheckout` injects into a getMore, if it fires. */
  failGetMore(): number | undefined {
    const point = this.#points.get('failGetMoreAfterCursorCheckout');
    if (!point || point.mode.kind === 'off' || !this.#fire(point)) return undefined;
    const code = point.data.get('errorCode');
    return isNumber(code) ? toNumber(code) : 1;
  }

  /** `pauseWhileSet`: resolves once the fail point is off (polled, as mongod polls). */
  async pauseWhileSet(name: FailPointName, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const point = this.#points.get(name);
      if (!point || point.mode.kind === 'off' || signal?.aborted || !this.#fire(point)) return;
      await new Promise(resolve => setTimeout(resolve, 10));
    }
  }

  #fire(point: FailPoint): boolean {
    const mode = point.mode;
    if (mode.kind === 'skip') {
      if (mode.remaining > 0) {
        mode.remaining--;
        return false;
      }
    } else if (mode.kind === 'times') {
      if (mode.remaining <= 0) return false;
      mode.remaining--;
      if (mode.remaining === 0) point.mode = { kind: 'off' };
    } else if (mode.kind === 'probability' && Math.random() >= mode.p) {
      return false;
    }
    point.timesEntered++;
    return true;
  }
}
