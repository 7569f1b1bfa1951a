/**
 * Text from webhook payloads, plugin manifests or config files on its way to an operator's terminal. Control
 * characters (C0, DEL, C1 — ESC and CSI start terminal escape sequences; CR and LF fake table rows) and the
 * invisible or direction-changing format characters (bidi overrides and isolates, zero-width marks, BOM) are
 * shown escaped (`\x1b`, `\n`, `\u202e`) instead of being interpreted.
 */

// C0 and DEL/C1 controls, then format characters (soft hyphen, bidi marks, zero-width, overrides, isolates, BOM).
const FORMAT = '\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2060-\\u2069\\ufeff';
const UNSAFE = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f${FORMAT}]`, 'g');
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One line of plain text, safe to print: unsafe characters escaped. */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

// JSON.stringify already escapes C0; these it leaves raw.
const JSON_UNSAFE = new RegExp(`[\\u007f-\\u009f${FORMAT}]`, 'g');

/** JSON for a terminal: still valid JSON with the same value, but DEL, C1 and format characters as \uXXXX. */
export function printableJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(
    JSON_UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
