// The one normalization of HTTP request paths before `paths`/`notPaths` are compared. Without it
// `/public/../admin`, `/%61dmin` or `/admin//x` walk past a DENY on `/admin/*` while the
// application still serves /admin (CVE-2021-31920 class). The rules follow Istio's strictest
// setting (DECODE_AND_MERGE_SLASHES): drop query and fragment; decode each %HH once when it is
// an unreserved character, "/" or "\"; turn "\" into "/"; merge slashes; resolve "." and "..".
// A path that cannot be read safely (not origin-form, %00, a broken escape, control
// characters) yields null, and the matcher then fails safe. A waypoint should forward the
// normalized path, so that the application serves exactly what was authorized.

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;

/** The path as policies see it, or null when it cannot be normalized safely. */
export function normalizeRequestPath(raw: string): string | null {
  if (typeof raw !== 'string') return null;
  const cut = raw.search(/[?#]/);
  const p = cut >= 0 ? raw.slice(0, cut) : raw;
  if (!p.startsWith('/')) return null;
  const decoded = decodeOnce(p);
  if (decoded === null) return null;
  const merged = decoded.replace(/\\/g, '/').replace(/\/{2,}/g, '/');
  return removeDotSegments(merged);
}

function decodeOnce(p: string): string | null {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    const code = p.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return null;
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = p.slice(i + 1, i + 3);
    if (!HEX2.test(hex)) return null;
    const byte = parseInt(hex, 16);
    if (byte === 0) return null;
    const ch = String.fromCharCode(byte);
    out += UNRESERVED.test(ch) || ch === '/' || ch === '\\' ? ch : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

/** RFC 3986 section 5.2.4 for an absolute path: `/a/./b/../c` is `/a/c`; `..` never climbs above `/`. */
function removeDotSegments(p: string): string {
  const segments = p.split('/').slice(1);
  const kept: string[] = [];
  for (const s of segments) {
    if (s === '.') continue;
    if (s === '..') kept.pop();
    else kept.push(s);
  }
  const last = segments[segments.length - 1];
  const out = `/${kept.join('/')}`;
  return (last === '.' || last === '..') && !out.endsWith('/') ? `${out}/` : out;
}
