import { UsageError } from './errors.js';

/**
 * A command-line operand: a path inside a volume (`VOL:/path`), inside a server's volume
 * (`http://host:port:/path`; `volume` is then the server URL), or a local path.
 */
export type Target =
  | { kind: 'remote'; volume: string; path: string; raw: string }
  | { kind: 'local'; path: string; raw: string };

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;
const SERVER_SCHEMES = new Set(['http', 'https']);

/** Is this "volume" a server URL (http:// or https://) rather than a volume folder? */
export function isServerUrl(volume: string): boolean {
  return URL_RE.test(volume);
}

/**
 * Parse `VOL:/path` (the LAST ':/' separates the volume folder from the path inside it), a server
 * target `http(s)://HOST[:PORT][:]/path` (the path starts at the first '/' after the host; a ':'
 * before it is the separator, as in `http://127.0.0.1:7070:/docs/`; no path means the root), or a
 * local path (no ':/').
 */
export function parseTarget(arg: string): Target {
  if (arg.includes('\0')) throw new UsageError(`path contains a NUL byte: ${JSON.stringify(arg)}`);
  if (URL_RE.test(arg)) return parseServerTarget(arg);
  const at = arg.lastIndexOf(':/');
  if (at < 0) return { kind: 'local', path: arg, raw: arg };
  const volume = arg.slice(0, at);
  if (volume === '') throw new UsageError(`${arg}: missing volume folder before ':/'`);
  return { kind: 'remote', volume, path: arg.slice(at + 1), raw: arg };
}

function parseServerTarget(arg: string): Target {
  const sep = arg.indexOf('://');
  const scheme = arg.slice(0, sep).toLowerCase();
  if (!SERVER_SCHEMES.has(scheme)) throw new UsageError(`${arg}: ${scheme}:// server URLs are not available yet; use http(s)://host:port:/path or VOL:/path`);
  const rest = arg.slice(sep + 3);
  const slash = rest.indexOf('/');
  let authority = slash < 0 ? rest : rest.slice(0, slash);
  if (authority.endsWith(':')) authority = authority.slice(0, -1);
  if (authority === '') throw new UsageError(`${arg}: missing host after ${scheme}://`);
  try {
    new URL(`${scheme}://${authority}`);
  } catch {
    throw new UsageError(`${arg}: "${authority}" is not a valid host[:port]`);
  }
  return { kind: 'remote', volume: `${scheme}://${authority}`, path: slash < 0 ? '/' : rest.slice(slash), raw: arg };
}

/** An operand that must name a path inside a volume. `VOL:` alone means the volume's root. */
export function parseRemote(arg: string): { volume: string; path: string; raw: string } {
  if (!URL_RE.test(arg) && arg.endsWith(':') && !arg.endsWith('::') && arg.length > 1 && !arg.includes(':/')) {
    return { volume: arg.slice(0, -1), path: '/', raw: arg };
  }
  const t = parseTarget(arg);
  if (t.kind !== 'remote') throw new UsageError(`${arg}: expected a volume path like ./vol:/dir/file or http://host:port:/dir/file`);
  return t;
}

/** Parse operands that must all be inside ONE volume (one command opens one volume). */
export function parseRemotes(args: string[]): { volume: string; paths: { path: string; raw: string }[] } {
  if (args.length === 0) throw new UsageError('missing volume path operand');
  const parsed = args.map(parseRemote);
  const volume = parsed[0].volume;
  for (const p of parsed) {
    if (!sameVolume(p.volume, volume)) {
      throw new UsageError(`${p.raw}: all volume paths of one command must be in the same volume (${volume})`);
    }
  }
  return { volume, paths: parsed.map(({ path, raw }) => ({ path, raw })) };
}

function sameVolume(a: string, b: string): boolean {
  if (isServerUrl(a) || isServerUrl(b)) return isServerUrl(a) && isServerUrl(b) && a.toLowerCase() === b.toLowerCase();
  const strip = (s: string) => s.replace(/\/+$/, '') || '/';
  return strip(a) === strip(b);
}

/** `SRC... DEST` operands: at least one source and the destination last. */
export function splitSourcesAndDest(operands: string[], verbName: string): { sources: string[]; dest: string } {
  if (operands.length < 2) {
    throw new UsageError(`${verbName} needs at least one source and a destination (see mosaicfs ${verbName} --help)`);
  }
  return { sources: operands.slice(0, -1), dest: operands[operands.length - 1] };
}
