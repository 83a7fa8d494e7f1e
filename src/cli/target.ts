import { UsageError } from './errors.js';

/** A command-line operand: a path inside a volume (`VOL:/path`) or a local path. */
export type Target =
  | { kind: 'remote'; volume: string; path: string; raw: string }
  | { kind: 'local'; path: string; raw: string };

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Parse `VOL:/path` (the LAST ':/' separates the volume folder from the path inside it) or a local
 * path (no ':/'). Server URLs (`mosaic://host/...`) are refused until remote volumes exist.
 */
export function parseTarget(arg: string): Target {
  if (arg.includes('\0')) throw new UsageError(`path contains a NUL byte: ${JSON.stringify(arg)}`);
  if (URL_RE.test(arg)) {
    throw new UsageError(`${arg}: server URLs are not available yet; use VOL:/path with a local volume folder`);
  }
  const at = arg.lastIndexOf(':/');
  if (at < 0) return { kind: 'local', path: arg, raw: arg };
  const volume = arg.slice(0, at);
  if (volume === '') throw new UsageError(`${arg}: missing volume folder before ':/'`);
  return { kind: 'remote', volume, path: arg.slice(at + 1), raw: arg };
}

/** An operand that must name a path inside a volume. `VOL:` alone means the volume's root. */
export function parseRemote(arg: string): { volume: string; path: string; raw: string } {
  if (arg.endsWith(':') && !arg.endsWith('::') && arg.length > 1 && !arg.includes(':/')) {
    return { volume: arg.slice(0, -1), path: '/', raw: arg };
  }
  const t = parseTarget(arg);
  if (t.kind !== 'remote') throw new UsageError(`${arg}: expected a volume path like ./vol:/dir/file`);
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
