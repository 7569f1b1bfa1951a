/**
 * A small real filesystem for full-disk tests: a tmpfs of a fixed size (needs root, as in CI's container), and a
 * filler file that takes every free byte of it and gives them back. Without the privilege to mount, the caller
 * skips with the reason (under CI=true that is a failure instead).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './host.ts';

export interface Tmpfs {
  dir: string;
  /** Writes a filler file until the filesystem refuses (ENOSPC); returns the bytes it took. */
  fill(): number;
  /**
   * Like fill(), a chunk at a time with `pause()` between chunks (other work runs meanwhile), until the filesystem
   * refuses; then takes the last bytes as fill() does. Returns the bytes it took.
   */
  fillGradually(chunk: number, pause: () => Promise<unknown>): Promise<number>;
  /** Deletes the filler: the space is free again. */
  free(): void;
  freeBytes(): number;
  unmount(): void;
}

export function mountTmpfs(sizeBytes: number): { fs?: Tmpfs; skip?: string } {
  const dir = tempDir('zw-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    const skip = `cannot mount a tmpfs for the full-disk test (needs root): ${why}`;
    // CI runs as root in its container: there the full-disk run must run, not skip (issue #14 acceptance).
    if (process.env.CI === 'true') throw new Error(`${skip} — required under CI=true`);
    return { skip };
  }
  const filler = join(dir, 'filler');
  const fs: Tmpfs = {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      let taken = 0;
      try {
        for (const chunk of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
          const buf = Buffer.alloc(chunk, 0x5a);
          for (;;) {
            try {
              taken += writeSync(fd, buf);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw err;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return taken;
    },
    async fillGradually(chunk, pause) {
      const buf = Buffer.alloc(chunk, 0x5a);
      let taken = 0;
      for (;;) {
        const fd = openSync(filler, 'a');
        try {
          taken += writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        } finally {
          closeSync(fd);
        }
        await pause();
      }
      return taken + fs.fill();
    },
    free() {
      rmSync(filler, { force: true });
    },
    freeBytes() {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    },
    unmount() {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  mkdirSync(join(dir, 'data'));
  return { fs };
}
