/** Destination documents from YAML/JSON files: standalone mode's ZEN_CONFIG_DIR (beside the Ingesters). */
import { configFilesIn, readDocuments } from '../config/load-files.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { RejectedDestination } from './manager.ts';
import { type DestinationConfig, type DestinationValidator, isDestinationDocument } from './validate.ts';

export function loadDestinationFiles(
  dir: string,
  validator: DestinationValidator,
  log: Logger,
): { valid: DestinationConfig[]; rejected: RejectedDestination[] } {
  const valid: DestinationConfig[] = [];
  const rejected: RejectedDestination[] = [];
  let files: string[] = [];
  try {
    files = configFilesIn(dir);
  } catch (err) {
    log.debug({ dir, err: (err as Error).message }, 'cannot read ZEN_CONFIG_DIR; no Destinations');
  }
  const seen = new Set<string>();
  for (const file of files) {
    for (const d of readDocuments(file)) {
      if (d.parseError || !isDestinationDocument(d.doc)) continue; // the Ingester loader reports parse errors
      const res = validator.validate(d.doc);
      if (!res.ok) {
        rejected.push({ key: d.origin, reason: res.reason, errors: res.errors });
        continue;
      }
      if (seen.has(res.destination.key)) {
        rejected.push({
          key: d.origin,
          reason: 'InvalidConfig',
          errors: [{ path: 'metadata.name', message: `Destination ${res.destination.key} is defined twice` }],
        });
        continue;
      }
      seen.add(res.destination.key);
      valid.push(res.destination);
    }
  }
  return { valid, rejected };
}
