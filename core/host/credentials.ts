/**
 * Where webhook credentials come from: a file (standalone mode, or a Secret mounted as a volume), or a Kubernetes
 * Secret watched by name (kubernetes mode). Both are re-read when they change, so a rotation needs no restart.
 * Values are never logged.
 */
import { readFileSync, statSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { type CredentialSource, splitCredentials } from '../http/auth.ts';
import { createInformer } from '../kube/informer.ts';
import type { Logger } from '../telemetry/logger.ts';

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

export type SecretCredentials = (namespace: string, name: string, key: string) => CredentialSource;

/** One watch per referenced Secret, started on first use and kept until `signal` aborts. */
export function kubeSecretCredentials(kc: KubeConfig, log: Logger, signal: AbortSignal): SecretCredentials {
  const secrets = new Map<string, { data: Record<string, string> | undefined; synced: boolean }>();
  return (namespace, name, key) => {
    const id = `${namespace}/${name}`;
    if (!secrets.has(id)) {
      const entry: { data: Record<string, string> | undefined; synced: boolean } = { data: undefined, synced: false };
      secrets.set(id, entry);
      type Secret = { data?: Record<string, string> };
      void createInformer<Secret>(
        kc,
        { group: '', version: 'v1', resource: 'secrets', namespace, fieldSelector: `metadata.name=${name}`, signal },
        {
          add: (s) => {
            entry.data = s.data ?? {};
          },
          update: (s) => {
            entry.data = s.data ?? {};
          },
          delete: () => {
            entry.data = undefined;
          },
          synced: (all) => {
            entry.data = all[0]?.data;
            entry.synced = true;
          },
        },
        { log: log.child({ component: 'secret-watch', secret: id }) },
      ).catch((err) => log.warn({ secret: id, err: (err as Error).message }, 'Secret watch stopped'));
    }
    return () => {
      const e = secrets.get(id)!;
      if (!e.synced) throw new Error(`Secret ${id} not loaded yet`);
      if (!e.data) throw new Error(`Secret ${id} does not exist`);
      const raw = e.data[key];
      if (raw === undefined) throw new Error(`Secret ${id} has no key '${key}'`);
      return splitCredentials(Buffer.from(raw, 'base64').toString('utf8'));
    };
  };
}
