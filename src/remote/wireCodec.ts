/**
 * JSON encoding of MetaStore arguments and results: Buffers/Uint8Arrays become {"$b64": "..."},
 * Maps become {"$map": [[key, value], ...]}. Everything else is plain JSON. decodeWire rejects
 * nothing by itself: the server validates decoded arguments per operation (src/server/metaOps.ts).
 *
 * Both directions copy on write: a subtree with nothing to encode or decode is returned as is (the
 * same object), so the common case (attributes, directory pages) costs one walk and no copies.
 * Neither ever modifies its input.
 */
export function encodeWire(value: unknown): unknown {
  if (value === undefined) return null;
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return { $b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [encodeWire(k), encodeWire(v)]) };
  if (Array.isArray(value)) return mapArray(value, encodeWire);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    // Class instances travel as their own enumerable fields (never through a toJSON).
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = encodeWire(v);
    return out;
  }
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (v === undefined) {
      out ??= { ...obj };
      delete out[k];
      continue;
    }
    const e = encodeWire(v);
    if (e !== v) (out ??= { ...obj })[k] = e;
  }
  return out ?? obj;
}

export function decodeWire(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return mapArray(value, decodeWire);
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0] === '$b64' && typeof obj.$b64 === 'string') return Buffer.from(obj.$b64, 'base64');
  if (keys.length === 1 && keys[0] === '$map' && Array.isArray(obj.$map)) {
    const map = new Map<unknown, unknown>();
    for (const pair of obj.$map) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError('malformed $map entry');
      map.set(decodeWire(pair[0]), decodeWire(pair[1]));
    }
    return map;
  }
  let out: Record<string, unknown> | null = null;
  for (const k of keys) {
    const v = obj[k];
    const d = decodeWire(v);
    if (d !== v) {
      if (!out) {
        // Own data properties only (a "__proto__" key stays a plain key, as JSON.parse made it).
        out = {};
        for (const k2 of keys) Object.defineProperty(out, k2, { value: obj[k2], enumerable: true, writable: true, configurable: true });
      }
      out[k] = d;
    }
  }
  return out ?? obj;
}

function mapArray(arr: unknown[], fn: (v: unknown) => unknown): unknown[] {
  let out: unknown[] | null = null;
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    const m = fn(v);
    if (m !== v) (out ??= arr.slice())[i] = m;
  }
  return out ?? arr;
}
