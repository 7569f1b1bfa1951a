/**
 * Reading and parsing webhook bodies. The limit is enforced while reading (a Content-Length over the limit is
 * refused before reading; without one, raw-body stops at `limit` bytes), never after buffering the whole body.
 * A body sent with `Content-Encoding: gzip | deflate | br` is decoded, and the same limit applies to the decoded
 * size (zlib stops at `maxOutputLength`): a zip bomb is a 413, not a gigabyte in memory. Other encodings are a 415.
 */
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import getRawBody from 'raw-body';
import { ZwError } from '../api/index.ts';
import { MAX_JSON_DEPTH, tooDeepPath } from '../pipeline/json-depth.ts';

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
  if (header === undefined || header === 'application/json') return header ?? '';
  return header.split(';')[0]!.trim().toLowerCase();
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

export type ContentEncoding = 'identity' | 'gzip' | 'deflate' | 'br';

const DECODERS = {
  gzip: promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
} as const;

/** The body's encoding from `Content-Encoding` (checked before reading); 415 for anything but one of ours. */
export function checkContentEncoding(header: string | undefined): ContentEncoding {
  if (header === undefined || header === '' || header === 'identity') return 'identity';
  const codings = (header ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return 'identity';
  const [coding] = codings;
  if (codings.length === 1 && coding !== undefined) {
    if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
    if (coding === 'deflate' || coding === 'br') return coding;
  }
  throw new ZwError(
    'ZW_ERR_UNSUPPORTED_MEDIA_TYPE',
    `Content-Encoding '${codings.join(', ').slice(0, 64)}' is not accepted; send identity, gzip, deflate or br (one coding)`,
    { field: 'headers.content-encoding' },
  );
}

/** Reads the body (at most `limit` bytes on the wire) and decodes it (at most `limit` bytes decoded). */
export function readBody(req: IncomingMessage, limit: number, encoding: ContentEncoding = 'identity'): Promise<Buffer> {
  if (encoding === 'identity') return readRawBody(req, limit);
  return readRawBody(req, limit).then((wire) => decodeBody(wire, limit, encoding));
}

async function decodeBody(wire: Buffer, limit: number, encoding: Exclude<ContentEncoding, 'identity'>) {
  try {
    return await DECODERS[encoding](wire, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError)
      throw new ZwError('ZW_ERR_BODY_TOO_LARGE', `decoded body exceeds the limit of ${limit} bytes`);
    throw new ZwError('ZW_ERR_BAD_JSON', `body is not valid ${encoding} data (Content-Encoding: ${encoding})`, {
      field: 'headers.content-encoding',
    });
  }
}

async function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    throw new ZwError('ZW_ERR_BODY_TOO_LARGE', `body of ${declared} bytes exceeds the limit of ${limit} bytes`);
  }
  // A declared length within the limit (every webhook sender we know): Node's parser delivers at most that many
  // bytes, so the limit holds; the chunks are kept as they come (one, for a small alert: no copy). Issue #18:
  // raw-body's general reader (a copy of every body, more listeners and ticks) was a visible cost per request.
  if (declared !== undefined && req.readableLength === 0 && !req.readableEnded)
    return readDeclared(req, Number(declared));
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

function readDeclared(req: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let received = 0;
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      reject(new ZwError('ZW_ERR_BAD_JSON', reason));
    };
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (first === undefined) first = chunk;
      else if (chunks === undefined) chunks = [first, chunk];
      else chunks.push(chunk);
    });
    req.once('end', () => {
      if (received !== length) return fail('body length does not match Content-Length');
      settled = true;
      resolve(chunks ? Buffer.concat(chunks, received) : (first ?? Buffer.alloc(0)));
    });
    req.once('error', (err: Error) =>
      fail(
        (err as { code?: string }).code === 'ECONNRESET'
          ? 'client aborted the request'
          : `cannot read body: ${err.message}`,
      ),
    );
    // After the end (the stream closes then) a no-op; before it, the client went away mid-body.
    req.once('close', () => fail('client aborted the request'));
  });
}

export interface ParsedBody {
  value: unknown;
  /** True when the body was JSON Lines (several documents, one per line); value is then an array. */
  jsonLines: boolean;
}

/**
 * JSON, or JSON Lines when the body is several JSON documents one per line. A value nested deeper than
 * MAX_JSON_DEPTH levels is refused (422 naming the path): nothing downstream has to walk it.
 */
export function parseJsonBody(raw: Buffer, contentType: string): ParsedBody {
  const parsed = parseJson(raw, contentType);
  const docs = parsed.jsonLines ? (parsed.value as unknown[]) : [parsed.value];
  for (let i = 0; i < docs.length; i++) {
    const path = tooDeepPath(docs[i], MAX_JSON_DEPTH, parsed.jsonLines ? `line ${i + 1}` : '');
    if (path !== undefined) {
      throw new ZwError(
        'ZW_ERR_PAYLOAD_INVALID',
        `JSON nests deeper than ${MAX_JSON_DEPTH} levels at ${path || '(top level)'}`,
        { field: path || '(top level)' },
      );
    }
  }
  return parsed;
}

function parseJson(raw: Buffer, contentType: string): ParsedBody {
  const text = raw.toString('utf8');
  if (text.trim() === '') throw new ZwError('ZW_ERR_BAD_JSON', 'body is empty; expected JSON');
  try {
    return { value: JSON.parse(text), jsonLines: false };
  } catch (err) {
    // Not one JSON document: JSON Lines, if it has several lines (split only now, not for every body).
    const lines =
      contentType !== 'application/json' || text.includes('\n') ? text.split('\n').filter((l) => l.trim() !== '') : [];
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
