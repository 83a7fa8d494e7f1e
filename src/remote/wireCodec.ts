/**
 * JSON encoding of MetaStore arguments and results: Buffers/Uint8Arrays become {"$b64": "..."},
 * Maps become {"$map": [[key, value], ...]}. Everything else is plain JSON. decodeWire rejects
 * nothing by itself: the server validates decoded arguments per operation (src/server/metaOps.ts).
 */
export function encodeWire(value: unknown): unknown {
  if (value === undefined) return null;
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return { $b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [encodeWire(k), encodeWire(v)]) };
  if (Array.isArray(value)) return value.map(encodeWire);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = encodeWire(v);
  return out;
}

export function decodeWire(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decodeWire);
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
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = decodeWire(obj[k]);
  return out;
}
