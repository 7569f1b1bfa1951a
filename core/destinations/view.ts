/**
 * The `DestinationView` a destination plugin's `onDeliver` sees, built from a validated Destination. One function
 * for the host (manager.ts) and the test kit, so a plugin tested with `kit.deliver` sees what the host hands it.
 */
import type { DestinationView } from '../api/index.ts';
import type { DestinationConfig } from './validate.ts';

export function destinationView(
  config: DestinationConfig,
  secret: (key: string) => Promise<string | undefined>,
): DestinationView {
  return Object.freeze({
    namespace: config.namespace,
    name: config.name,
    type: config.spec.type,
    url: config.spec.url,
    headers: config.spec.headers ?? {},
    config: config.spec.config ?? {},
    generation: config.generation,
    secret,
  });
}
