/**
 * Runs the saves of each checkpoint name one after the other, in call order: a host that fires
 * saves without awaiting them (on every `applied` event, say) must never see an older
 * checkpoint land after a newer one, nor two writes of one name collide.
 */

/**
 * Per-name queues of save operations.
 * @internal
 */
export class OrderedSaves {
  /** The last save of each name still queued or running, settled either way. */
  readonly #last = new Map<string, Promise<void>>();

  /** Runs `write` once every earlier save of `name` has settled; its result is the save's. */
  run(name: string, write: () => Promise<void>): Promise<void> {
    const previous = this.#last.get(name) ?? Promise.resolve();
    const saving = previous.then(write);
    const settled = saving.catch(() => undefined);
    this.#last.set(name, settled);
    void settled.then(() => {
      if (this.#last.get(name) === settled) this.#last.delete(name);
    });
    return saving;
  }
}
