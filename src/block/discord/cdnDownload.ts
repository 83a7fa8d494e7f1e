/** Outcome of one CDN download. */
export type CdnResult =
  | { kind: 'ok'; bytes: Buffer }
  /** 404/403/410: the signed URL is expired, revoked, or the attachment is gone. */
  | { kind: 'refused'; status: number }
  /** Anything worth retrying: 5xx, 429, a network error, a short body. */
  | { kind: 'transient'; detail: string };

/**
 * Download bytes [start, end) of an attachment of `size` bytes from its signed CDN URL. A partial
 * range is asked for with an HTTP Range header; a CDN that ignores it (200 with the whole body)
 * is sliced here, so both behaviours give the right bytes.
 */
export async function downloadAttachment(url: string, size: number, start: number, end: number, timeoutMs: number): Promise<CdnResult> {
  const partial = start > 0 || end < size;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: partial ? { Range: `bytes=${start}-${end - 1}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return { kind: 'transient', detail: (err as Error).message };
  }
  if (res.status === 404 || res.status === 403 || res.status === 410) {
    await res.body?.cancel();
    return { kind: 'refused', status: res.status };
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    return { kind: 'transient', detail: `CDN answered ${res.status}` };
  }
  let body: Buffer;
  try {
    body = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    return { kind: 'transient', detail: (err as Error).message };
  }
  if (res.status === 206 && body.length === end - start) return { kind: 'ok', bytes: body };
  if (res.status === 200 && body.length === size) return { kind: 'ok', bytes: partial ? Buffer.from(body.subarray(start, end)) : body };
  return { kind: 'transient', detail: `CDN sent ${body.length} bytes (status ${res.status}) for bytes ${start}-${end} of ${size}` };
}
