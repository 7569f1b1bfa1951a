/**
 * Reading and parsing webhook bodies. The limit is enforced while reading (raw-body stops at `limit` bytes and
 * a Content-Length over the limit is refused before reading), never after buffering the whole body.
 */
import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';
import { ZwError } from '../api/index.ts';

const JSON_TYPES = new Set([
  'application/json',
  'application/x-ndjson',
  'application/jsonl',
  'application/json-lines',
  'application/x-json-stream',
  'text/plain',
]);

/** The media type without parameters, lower case; '' when absent. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

export function checkContentType(header: string | undefined): void {
  const type = mediaType(header);
  // No Content-Type at all is accepted as JSON (several security tools omit it); a wrong one is refused.
  if (type === '' || JSON_TYPES.has(type) || type.endsWith('+json')) return;
  throw new ZwError(
    'ZW_ERR_UNSUPPORTED_MEDIA_TYPE',
    `Content-Type '${type}' is not accepted; send application/json or application/x-ndjson`,
    {
      field: 'headers.content-type',
    },
  );
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    throw new ZwError('ZW_ERR_BODY_TOO_LARGE', `body of ${declared} bytes exceeds the limit of ${limit} bytes`);
  }
  try {
    return await getRawBody(req, { limit, ...(declared !== undefined ? { length: declared } : {}) });
  } catch (err) {
    const e = err as { type?: string; message?: string };
    if (e.type === 'entity.too.large')
      throw new ZwError('ZW_ERR_BODY_TOO_LARGE', `body exceeds the limit of ${limit} bytes`);
    if (e.type === 'request.size.invalid')
      throw new ZwError('ZW_ERR_BAD_JSON', 'body length does not match Content-Length');
    if (e.type === 'request.aborted') throw new ZwError('ZW_ERR_BAD_JSON', 'client aborted the request');
    throw new ZwError('ZW_ERR_BAD_JSON', `cannot read body: ${e.message ?? 'unknown error'}`);
  }
}

export interface ParsedBody {
  value: unknown;
  /** True when the body was JSON Lines (several documents, one per line); value is then an array. */
  jsonLines: boolean;
}

/** JSON, or JSON Lines when the body is several JSON documents one per line. */
export function parseJsonBody(raw: Buffer, contentType: string): ParsedBody {
  const text = raw.toString('utf8');
  if (text.trim() === '') throw new ZwError('ZW_ERR_BAD_JSON', 'body is empty; expected JSON');
  const lines =
    contentType !== 'application/json' || text.includes('\n') ? text.split('\n').filter((l) => l.trim() !== '') : [];
  try {
    return { value: JSON.parse(text), jsonLines: false };
  } catch (err) {
    if (lines.length > 1) {
      const values: unknown[] = [];
      for (let i = 0; i < lines.length; i++) {
        try {
          values.push(JSON.parse(lines[i]!));
        } catch (lineErr) {
          throw new ZwError('ZW_ERR_BAD_JSON', `malformed JSON Lines: line ${i + 1}: ${(lineErr as Error).message}`, {
            field: `line ${i + 1}`,
          });
        }
      }
      return { value: values, jsonLines: true };
    }
    throw new ZwError('ZW_ERR_BAD_JSON', `malformed JSON: ${(err as Error).message}`);
  }
}
