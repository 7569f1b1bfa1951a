/**
 * Webhook credentials from a file (standalone mode, or a Secret mounted as a volume), re-read when it changes, so a
 * rotation needs no restart. Secrets watched through the API are in kube-credentials.ts (kubernetes mode only).
 * Values are never logged.
 */
import { readFileSync, statSync } from 'node:fs';
import { type CredentialSource, splitCredentials } from '../http/auth.ts';

/** Re-reads the file when its mtime or size changes (checked at most once a second). */
export function fileCredentials(path: string): CredentialSource {
  let checkedAt = 0;
  let stamp = '';
  let values: string[] = [];
  return () => {
    const now = Date.now();
    if (now - checkedAt >= 1000) {
      checkedAt = now;
      const st = statSync(path); // throws ENOENT: reported as "credentials not available"
      const next = `${st.mtimeMs}:${st.size}`;
      if (next !== stamp) {
        values = splitCredentials(readFileSync(path, 'utf8'));
        stamp = next;
      }
    }
    return values;
  };
}
