/**
 * Standalone mode's record of used webhook signatures (HMAC replay protection, core/http/replay.ts), on disk so a
 * request captured before a restart is still refused after it. Its own file next to the Observation store
 * (`ZEN_DATA_DIR/webhook-signatures.db`): its small writes never wait on, or hold up, the store's transactions.
 * Rows are sha256 hashes of (Ingester, signature) with the time the signature's timestamp leaves the tolerance
 * window; expired rows are deleted as new ones are added.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { UsedSignatures } from '../http/replay.ts';

const PURGE_EVERY = 256;

export class SqliteUsedSignatures implements UsedSignatures {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #has: StatementSync;
  readonly #add: StatementSync;
  readonly #purge: StatementSync;
  #adds = 0;

  /** `dir` is created if missing; `:memory:` keeps it in memory (tests). */
  constructor(dir: string) {
    if (dir === ':memory:') this.path = ':memory:';
    else {
      mkdirSync(dir, { recursive: true });
      this.path = join(dir, 'webhook-signatures.db');
    }
    this.#db = new DatabaseSync(this.path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 2000;
      CREATE TABLE IF NOT EXISTS used_signatures (
        key TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS used_signatures_expiry ON used_signatures (expires_at);
    `);
    this.#has = this.#db.prepare('SELECT 1 AS hit FROM used_signatures WHERE key = ? AND expires_at > ?');
    this.#add = this.#db.prepare(
      'INSERT INTO used_signatures (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)',
    );
    this.#purge = this.#db.prepare('DELETE FROM used_signatures WHERE expires_at <= ?');
  }

  has(key: string, now: number): boolean {
    return this.#has.get(key, now) !== undefined;
  }

  add(key: string, expiresAt: number, now: number): void {
    this.#add.run(key, expiresAt);
    if (++this.#adds % PURGE_EVERY === 0) this.#purge.run(now);
  }

  count(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM used_signatures').get() as { n: number }).n;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
