/**
 * Pure evaluation of one cert-manager Certificate (`cert-manager.io/v1`) into the complete set of its findings at
 * a given time. No host needed: index.ts wires it to the informer, tests call it directly.
 *
 * Findings (fingerprints are stable: the same Certificate state gives the same finding on every replica):
 * - expiry: `status.notAfter` within `warnDays` (medium), within `urgentDays` (high), or past (critical). The band
 *   and the notAfter are part of the fingerprint, so a renewal (new notAfter) resolves the old finding, and a
 *   finding that moves into a more severe band replaces the less severe one.
 * - not ready: the `Ready` condition is `False` (issuance or renewal failing). `Unknown` is "in progress": no finding.
 */
import type { FromSchema } from 'json-schema-to-ts';
import type { ObservationDraft } from 'zen-watcher/plugin-api';
import type { configSchema } from './schema.gen.ts';

export const DAY_MS = 86_400_000;

/** spec.config as the host hands it over: validated against schema.json, its defaults applied. */
export type CertExpiryConfig = FromSchema<typeof configSchema>;

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

/** The fields of a Certificate this plugin reads. */
export interface Certificate {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: {
    secretName?: string;
    commonName?: string;
    dnsNames?: string[];
    issuerRef?: { name?: string; kind?: string };
  };
  status?: { notAfter?: string; renewalTime?: string; conditions?: Condition[] };
}

export type Band = 'expired' | 'urgent' | 'expiring';

/** One scope per Certificate, by identity (namespace/name), not uid: a re-created Certificate is the same scope. */
export function scopeOf(cert: Certificate): string {
  return `${cert.metadata?.namespace ?? ''}/${cert.metadata?.name ?? ''}`;
}

/** Which expiry band `notAfter` is in at `now`, or undefined when it is further away than warnDays. */
export function bandOf(notAfterMs: number, now: number, config: CertExpiryConfig): Band | undefined {
  const left = notAfterMs - now;
  if (left <= 0) return 'expired';
  if (left <= Math.min(config.urgentDays, config.warnDays) * DAY_MS) return 'urgent';
  if (left <= config.warnDays * DAY_MS) return 'expiring';
  return undefined;
}

const SEVERITY: Record<Band, string> = { expired: 'critical', urgent: 'high', expiring: 'medium' };

function describeLeft(notAfterMs: number, now: number): string {
  const days = Math.floor(Math.abs(notAfterMs - now) / DAY_MS);
  if (notAfterMs <= now) return days === 0 ? 'expired today' : `expired ${days} day${days === 1 ? '' : 's'} ago`;
  return days === 0 ? 'expires within a day' : `expires in ${days} day${days === 1 ? '' : 's'}`;
}

/** The complete set of findings of one Certificate at `now` (an empty array when all is well). */
export function evaluate(cert: Certificate, now: number, config: CertExpiryConfig): ObservationDraft[] {
  const name = cert.metadata?.name ?? '';
  const namespace = cert.metadata?.namespace ?? '';
  const id = `${namespace}/${name}`;
  const resource = { apiVersion: cert.apiVersion ?? 'cert-manager.io/v1', kind: 'Certificate', name, namespace };
  const details: Record<string, unknown> = {
    ...(cert.spec?.secretName ? { secretName: cert.spec.secretName } : {}),
    ...(cert.spec?.issuerRef?.name
      ? { issuer: `${cert.spec.issuerRef.kind ?? 'Issuer'}/${cert.spec.issuerRef.name}` }
      : {}),
    ...(cert.spec?.dnsNames?.length ? { dnsNames: cert.spec.dnsNames.slice(0, 10) } : {}),
  };
  const drafts: ObservationDraft[] = [];

  const notAfter = cert.status?.notAfter;
  const notAfterMs = notAfter ? Date.parse(notAfter) : Number.NaN;
  if (notAfter && Number.isFinite(notAfterMs)) {
    const band = bandOf(notAfterMs, now, config);
    if (band) {
      const renewal = cert.status?.renewalTime;
      const overdue = renewal !== undefined && Date.parse(renewal) < now;
      drafts.push({
        severity: SEVERITY[band],
        category: 'operations',
        eventType: band === 'expired' ? 'certificate_expired' : 'certificate_expiring',
        title: `Certificate ${id} ${describeLeft(notAfterMs, now)}`,
        message:
          `status.notAfter is ${notAfter}.` +
          (renewal ? ` cert-manager ${overdue ? 'was due to renew it at' : 'renews it at'} ${renewal}.` : '') +
          (overdue ? ' Check the Certificate, its CertificateRequests and the issuer.' : ''),
        resource,
        details: {
          ...details,
          notAfter,
          band,
          daysLeft: Math.floor((notAfterMs - now) / DAY_MS),
          ...(renewal ? { renewalTime: renewal } : {}),
        },
        fingerprint: `certificate/${id}/${band}/${notAfter}`,
      });
    }
  }

  const ready = cert.status?.conditions?.find((c) => c.type === 'Ready');
  if (config.notReady && ready?.status === 'False') {
    drafts.push({
      severity: config.notReadySeverity,
      category: 'operations',
      eventType: 'certificate_not_ready',
      title: `Certificate ${id} is not Ready${ready.reason ? ` (${ready.reason})` : ''}`,
      ...(ready.message ? { message: ready.message } : {}),
      resource,
      details: { ...details, ...(ready.reason ? { reason: ready.reason } : {}) },
      fingerprint: `certificate/${id}/not-ready`,
    });
  }
  return drafts;
}
