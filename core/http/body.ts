/**
 * Reading and parsing webhook bodies. The limit is enforced while reading (a Content-Length over the limit is
 * refused before reading; without one, raw-body stops at `limit` bytes), never after buffering the whole body.
 * A body sent with `Content-Encoding: gzip | deflate | br` is decoded, and the same limit applies to the decoded
 * size (zlib stops at `maxOutputLength`): a zip bomb is a 413, not a gigabyte in memory. Other encodings are a 415.
 */
import { isUtf8 } from 'node:buffer';
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

/** How a body's bytes are decoded: UTF-8 (validated), or Latin-1 for a sender that declares it. */
export type BodyCharset = 'utf-8' | 'latin1';

/**
 * The body's charset from the Content-Type header's `charset` parameter (the whole header is passed). JSON between
 * systems is UTF-8 (RFC 8259 §8.1), which is what no parameter means; some HTTP clients still declare ISO-8859-1,
 * and those bodies are decoded as Latin-1 instead of as UTF-8 with their other bytes replaced (two different titles
 * would become the same finding). Any other charset is a 415.
 */
export function checkCharset(header: string | undefined): BodyCharset {
  if (header === undefined || header === 'application/json') return 'utf-8'; // the usual case, nothing to parse
  const semi = header.indexOf(';');
  if (semi < 0) return 'utf-8';
  for (const param of header.slice(semi + 1).split(';')) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (UTF8_LABELS.has(charset)) return 'utf-8';
    if (LATIN1_LABELS.has(charset)) return 'latin1';
    throw new ZwError(
      'ZW_ERR_UNSUPPORTED_MEDIA_TYPE',
      `charset '${charset.slice(0, 40)}' is not accepted; send JSON as UTF-8 (RFC 8259), or declare iso-8859-1`,
      { field: 'headers.content-type' },
    );
  }
  return 'utf-8';
}

/** ASCII is a subset of UTF-8: its bytes are checked the same way. */
const UTF8_LABELS = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);
const LATIN1_LABELS = new Set(['iso-8859-1', 'iso8859-1', 'latin1', 'l1']);

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
export function parseJsonBody(raw: Buffer, contentType: string, charset: BodyCharset = 'utf-8'): ParsedBody {
  const parsed = parseJson(raw, contentType, charset);
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

function parseJson(raw: Buffer, contentType: string, charset: BodyCharset): ParsedBody {
  const text = charset === 'latin1' ? raw.toString('latin1') : utf8Text(raw);
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

/**
 * The body as UTF-8. Bytes that are not UTF-8 are refused, not replaced by U+FFFD: replaced, two different events
 * could be stored (and hashed) as the same one. isUtf8 is a vectorised check, a fraction of a microsecond per alert.
 */
function utf8Text(raw: Buffer): string {
  if (!isUtf8(raw)) {
    throw new ZwError(
      'ZW_ERR_BAD_JSON',
      `body is not valid UTF-8 (at byte ${firstInvalidUtf8(raw)}); send JSON as UTF-8 (RFC 8259), or declare charset=iso-8859-1`,
    );
  }
  // A UTF-8 byte order mark is ignored (RFC 8259 §8.1 lets a parser do so), not a "malformed JSON" at position 0.
  return raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf
    ? raw.toString('utf8', 3)
    : raw.toString('utf8');
}

/**
 * Where the first sequence that is not UTF-8 starts: from the longest prefix that decodes (a prefix ending inside a
 * sequence counts as decodable, `stream`), found by halving. Only on the error path, for the message.
 */
function firstInvalidUtf8(raw: Buffer): number {
  let lo = 0;
  let hi = raw.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(raw.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  // The prefix may end inside the bad sequence (its lead byte decoded as "to be continued"): report where it starts.
  for (let k = 1; k <= 3 && lo - k >= 0; k++) {
    const b = raw[lo - k]!;
    if (b >= 0xc0) return lo - k;
    if (b < 0x80) break;
  }
  return lo;
}
