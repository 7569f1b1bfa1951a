/**
 * Webhook credentials from Kubernetes Secrets watched by name (kubernetes mode), re-read when they change, so a
 * rotation needs no restart. Values are never logged.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ZwError } from '../api/index.ts';
import { type CredentialSource, splitCredentials } from '../http/auth.ts';
import { createInformer } from '../kube/informer.ts';
import type { Logger } from '../telemetry/logger.ts';

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
      if (!e.synced) throw new ZwError('ZW_ERR_CREDENTIALS', `Secret ${id} not loaded yet`);
      if (!e.data) throw new ZwError('ZW_ERR_CREDENTIALS', `Secret ${id} does not exist`);
      const raw = e.data[key];
      if (raw === undefined) throw new ZwError('ZW_ERR_CREDENTIALS', `Secret ${id} has no key '${key}'`);
      return splitCredentials(Buffer.from(raw, 'base64').toString('utf8'));
    };
  };
}
