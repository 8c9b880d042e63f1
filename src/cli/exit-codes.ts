/**
 * The exit codes of the `mongo-replicate` command (documented in docs/cli.md).
 * @internal
 */
export const ExitCode = Object.freeze({
  /** Done: the run stopped cleanly, the verification found both sides equal. */
  ok: 0,
  /** Replication or verification failed at run time (the error says why and what to do). */
  failed: 1,
  /** Bad usage or configuration, found before anything was written. */
  usage: 2,
  /** `verify` found differences. */
  different: 3,
  /** `checkpoint show`/`reset`: no checkpoint by that name. */
  notFound: 4,
  /**
   * Another replicator holds the checkpoint's lease (`run` without `--standby`), or
   * `checkpoint reset` refused to delete a checkpoint whose lease is live or was not released.
   */
  leaseHeld: 5,
  /** A second interrupt forced the stop (the last checkpoint still holds; restart resumes). */
  interrupted: 130
});
