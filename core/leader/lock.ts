/**
 * The storage contract of the elector (client-go `resourcelock/interface.go`), strictly for use by elector.ts.
 * LeaseLock is the production implementation; test/support/fake-lock.ts is the in-memory one.
 */
import { ZwError } from '../api/errors.ts';

/** The election state as stored in the Lease spec. Times are ms since the epoch as written by the holder. */
export interface LeaderRecord {
  /** '' = nobody holds the lease (released or never held): anyone may take it at once. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: number | undefined;
  renewTime: number | undefined;
  leaderTransitions: number;
}

export interface LeaderLock {
  /** This replica's identity (pod name); never empty. */
  readonly identity: string;
  /** For logs and metric labels, e.g. "zen-system/zen-watcher-leader-election". */
  describe(): string;
  /**
   * Reads the record. `undefined` = the lock object does not exist. `raw` is a byte-exact serialisation of the
   * stored record: the elector only compares it with the previous one ("did anyone write since I last looked?").
   */
  get(signal: AbortSignal): Promise<{ record: LeaderRecord; raw: string } | undefined>;
  /** Creates the lock object; fails if it already exists. */
  create(record: LeaderRecord, signal: AbortSignal): Promise<void>;
  /**
   * Replaces the record, with optimistic concurrency against the version this lock last read or wrote: fails
   * (409 Conflict) if anyone else wrote in between. Fails if nothing was read or written yet.
   */
  update(record: LeaderRecord, signal: AbortSignal): Promise<void>;
}

/** A failed lock call. `status` is the HTTP status when the API server answered (409 = conflict). */
export class LeaderLockError extends ZwError {
  /** The API server's HTTP status, when it answered (409 = conflict). */
  readonly apiStatus: number | undefined;
  constructor(message: string, opts: { status?: number; cause?: unknown } = {}) {
    super('ZW_ERR_LEADER_LOCK', message, { cause: opts.cause });
    this.name = 'LeaderLockError';
    this.apiStatus = opts.status;
  }
}
