/**
 * Webhook credentials from a file (standalone mode, or a Secret mounted as a volume), re-read when it changes, so a
 * rotation needs no restart. Secrets watched through the API are in kube-credentials.ts (kubernetes mode only);
 * credentialsOf picks the source of one webhook Ingester.
 * Values are never logged.
 */
import { readFileSync, statSync } from 'node:fs';
import { ZwError } from '../api/index.ts';
import { type CredentialSource, splitCredentials } from '../http/auth.ts';
import type { CompiledIngester } from '../pipeline/pipeline.ts';
import type { SecretCredentials } from './kube-credentials.ts';

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

/** Where a webhook Ingester's secret comes from: a file, or (kubernetes mode) a watched Secret. */
export function credentialsOf(
  ci: CompiledIngester,
  secrets: SecretCredentials | undefined,
): CredentialSource | undefined {
  const auth = ci.config.spec.webhook?.auth;
  if (auth?.secretFile) return fileCredentials(auth.secretFile);
  if (!auth?.secretRef) return undefined;
  const key = auth.secretRef.key ?? (auth.type === 'hmac' ? 'secret' : 'token');
  const ref = auth.secretRef;
  return secrets
    ? secrets(ci.config.namespace, ref.name, key)
    : () => {
        throw new ZwError(
          'ZW_ERR_NEEDS_KUBERNETES',
          'secretRef needs kubernetes mode; use secretFile in standalone mode',
        );
      };
}
