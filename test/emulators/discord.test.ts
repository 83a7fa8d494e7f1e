/**
 * Pins the Discord behaviour the emulator copies (discord-api-docs: rate-limits.mdx, reference.mdx
 * "Uploading Files" / "Signed Attachment CDN URLs", message.mdx), with plain HTTP requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDiscordEmulator, type DiscordEmulator } from './discord/index.js';

const CH = '2200000000000000001';
const CH2 = '2200000000000000002';
const HIDDEN = '2200000000000000003';
const TOKEN = 'emu-token-1';
const LIMITED = 'emu-token-limited';

interface Msg {
  id: string;
  channel_id: string;
  content: string;
  attachments: { id: string; filename: string; size: number; url: string; proxy_url: string; content_type: string }[];
}

describe('Discord emulator', () => {
  let emu: DiscordEmulator;
  before(async () => {
    emu = await startDiscordEmulator({
      bots: [{ token: TOKEN, channels: [CH, CH2] }, { token: LIMITED }],
      channels: [CH, CH2, HIDDEN],
      attachmentSizeLimit: 1000,
      urlTtlMs: 1000,
      routeLimits: { createMessage: { limit: 100, windowMs: 1000 }, getMessage: { limit: 100, windowMs: 1000 } },
      globalLimit: 50,
    });
  });
  after(() => emu.close());

  const api = (route: string, init: RequestInit & { token?: string } = {}): Promise<Response> =>
    fetch(`${emu.apiBase}${route}`, { ...init, headers: { Authorization: `Bot ${init.token ?? TOKEN}`, ...(init.headers as Record<string, string>) } });

  const upload = (channel: string, data: Buffer, filename = 'block.bin', token?: string): Promise<Response> => {
    const form = new FormData();
    form.append('payload_json', JSON.stringify({ content: '', attachments: [{ id: 0, filename }] }));
    form.append('files[0]', new Blob([new Uint8Array(data)], { type: 'application/octet-stream' }), 'upload-name.bin');
    return api(`/channels/${channel}/messages`, { method: 'POST', body: form, token });
  };

  it('creates a message from payload_json + files[0] and serves the attachment from a signed CDN URL', async () => {
    const data = Buffer.from('hello discord emulator');
    const res = await upload(CH, data, 'abc.bin');
    assert.equal(res.status, 200);
    const msg = (await res.json()) as Msg;
    assert.match(msg.id, /^\d{17,20}$/);
    assert.equal(msg.channel_id, CH);
    assert.equal(msg.attachments.length, 1);
    const a = msg.attachments[0]!;
    assert.equal(a.filename, 'abc.bin', 'payload_json attachments[].filename names the file');
    assert.equal(a.size, data.length);
    assert.equal(a.content_type, 'application/octet-stream');
    const url = new URL(a.url);
    assert.equal(url.pathname, `/attachments/${CH}/${a.id}/abc.bin`);
    for (const p of ['ex', 'is', 'hm']) assert.match(url.searchParams.get(p) ?? '', /^[0-9a-f]+$/, p);
    assert.ok(parseInt(url.searchParams.get('ex')!, 16) > parseInt(url.searchParams.get('is')!, 16));
    const cdn = await fetch(a.url);
    assert.equal(cdn.status, 200);
    assert.equal(cdn.headers.get('accept-ranges'), 'bytes');
    assert.ok(Buffer.from(await cdn.arrayBuffer()).equals(data));
    assert.ok(Buffer.from(await (await fetch(a.proxy_url)).arrayBuffer()).equals(data), 'proxy_url serves the same bytes');

    const part = await fetch(a.url, { headers: { Range: 'bytes=6-12' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 6-12/${data.length}`);
    assert.equal(Buffer.from(await part.arrayBuffer()).toString(), 'discord');
    const past = await fetch(a.url, { headers: { Range: `bytes=${data.length}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${data.length}`);
    await past.body?.cancel();

    const got = await api(`/channels/${CH}/messages/${msg.id}`);
    assert.equal(got.status, 200);
    const again = (await got.json()) as Msg;
    assert.equal(again.attachments[0]!.id, a.id);
    assert.equal(again.attachments[0]!.size, data.length);
  });

  it('signed URLs expire (404 "no longer available"), a bad signature is 404, a fresh fetch re-signs', async () => {
    const msg = (await (await upload(CH2, Buffer.from('expiring'))).json()) as Msg;
    const url = msg.attachments[0]!.url;
    const forged = new URL(url);
    forged.searchParams.set('hm', 'f'.repeat(64));
    assert.equal((await fetch(forged)).status, 404);
    const noSig = new URL(url);
    noSig.search = '';
    assert.equal((await fetch(noSig)).status, 404);
    const ex = parseInt(new URL(url).searchParams.get('ex')!, 16) * 1000;
    await sleep(ex - Date.now() + 50);
    const expired = await fetch(url);
    assert.equal(expired.status, 404);
    assert.equal(await expired.text(), 'This content is no longer available.');
    const fresh = (await (await api(`/channels/${CH2}/messages/${msg.id}`)).json()) as Msg;
    assert.notEqual(fresh.attachments[0]!.url, url);
    assert.equal(Buffer.from(await (await fetch(fresh.attachments[0]!.url)).arrayBuffer()).toString(), 'expiring');
  });

  it('sends consistent per-route rate-limit headers and answers an exhausted bucket with a user-scoped 429', async () => {
    emu.set({ routeLimits: { createMessage: { limit: 3, windowMs: 2000 } } });
    try {
      await checkRouteLimit();
    } finally {
      emu.set({ routeLimits: { createMessage: { limit: 100, windowMs: 1000 } } });
    }
  });

  async function checkRouteLimit(): Promise<void> {
    const seen: Headers[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await upload(CH, Buffer.from(`r${i}`), 'r.bin', LIMITED);
      assert.equal(res.status, 200);
      seen.push(res.headers);
      await res.body?.cancel();
    }
    assert.deepEqual(seen.map((h) => h.get('x-ratelimit-limit')), ['3', '3', '3']);
    assert.deepEqual(seen.map((h) => h.get('x-ratelimit-remaining')), ['2', '1', '0']);
    const bucket = seen[0]!.get('x-ratelimit-bucket');
    assert.match(bucket ?? '', /^[0-9a-f]{32}$/);
    assert.ok(seen.every((h) => h.get('x-ratelimit-bucket') === bucket));
    for (const h of seen) {
      const after = Number(h.get('x-ratelimit-reset-after'));
      assert.ok(after > 0 && after <= 2, `reset-after ${after}`);
      assert.ok(Math.abs(Number(h.get('x-ratelimit-reset')) * 1000 - (Date.now() + after * 1000)) < 500, 'reset = now + reset-after');
    }
    const limited = await upload(CH, Buffer.from('over'), 'r.bin', LIMITED);
    assert.equal(limited.status, 429);
    const body = (await limited.json()) as { message: string; retry_after: number; global: boolean };
    assert.equal(body.message, 'You are being rate limited.');
    assert.equal(body.global, false);
    assert.ok(body.retry_after > 0 && body.retry_after <= 2);
    assert.equal(limited.headers.get('retry-after'), String(Math.ceil(body.retry_after)));
    assert.equal(limited.headers.get('x-ratelimit-scope'), 'user');
    assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(limited.headers.get('x-ratelimit-global'), null);
    // Limits are per top-level resource: another channel has its own window, same bucket id.
    const other = await upload(CH2, Buffer.from('other channel'), 'r.bin', LIMITED);
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('x-ratelimit-bucket'), bucket);
    assert.equal(other.headers.get('x-ratelimit-remaining'), '2');
    await other.body?.cancel();
  }

  it('enforces the global limit per token with a global 429', async () => {
    emu.set({ globalLimit: 5 });
    try {
      const statuses: number[] = [];
      let globalBody: { retry_after: number; global: boolean } | undefined;
      let globalHeaders: Headers | undefined;
      for (let i = 0; i < 8; i++) {
        const res = await api('/users/@me', { token: LIMITED });
        statuses.push(res.status);
        if (res.status === 429 && !globalBody) {
          globalBody = (await res.json()) as typeof globalBody;
          globalHeaders = res.headers;
        } else await res.body?.cancel();
      }
      assert.ok(statuses.includes(429), `statuses ${statuses}`);
      assert.equal(globalBody!.global, true);
      assert.ok(globalBody!.retry_after > 0 && globalBody!.retry_after <= 1);
      assert.equal(globalHeaders!.get('x-ratelimit-global'), 'true');
      assert.equal(globalHeaders!.get('x-ratelimit-scope'), 'global');
      assert.equal(globalHeaders!.get('retry-after'), '1');
    } finally {
      emu.set({ globalLimit: 50 });
    }
  });

  it('answers 401 for an unknown token, 403 for a hidden channel, 404 for unknown channels and messages', async () => {
    const bad = await api('/users/@me', { token: 'nope' });
    assert.equal(bad.status, 401);
    assert.deepEqual(await bad.json(), { message: '401: Unauthorized', code: 0 });
    const noAuth = await fetch(`${emu.apiBase}/users/@me`);
    assert.equal(noAuth.status, 401);
    await noAuth.body?.cancel();
    const hidden = await upload(HIDDEN, Buffer.from('x'));
    assert.equal(hidden.status, 403);
    assert.deepEqual(await hidden.json(), { message: 'Missing Access', code: 50001 });
    const unknown = await api('/channels/999/messages/1');
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), { message: 'Unknown Channel', code: 10003 });
    const noMsg = await api(`/channels/${CH}/messages/123`);
    assert.equal(noMsg.status, 404);
    assert.deepEqual(await noMsg.json(), { message: 'Unknown Message', code: 10008 });
  });

  it('refuses a file over the attachment limit with 413 / 40005', async () => {
    const over = await upload(CH2, Buffer.alloc(1001));
    assert.equal(over.status, 413);
    assert.deepEqual(await over.json(), { message: 'Request entity too large', code: 40005 });
    const at = await upload(CH2, Buffer.alloc(1000));
    assert.equal(at.status, 200);
    assert.equal(((await at.json()) as Msg).attachments[0]!.size, 1000);
  });

  it('deletes a message (204): the message and its attachment are gone', async () => {
    const msg = (await (await upload(CH2, Buffer.from('to delete'))).json()) as Msg;
    const count = emu.messageCount(CH2);
    const del = await api(`/channels/${CH2}/messages/${msg.id}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal(emu.messageCount(CH2), count - 1);
    assert.equal((await api(`/channels/${CH2}/messages/${msg.id}`)).status, 404);
    assert.equal((await fetch(msg.attachments[0]!.url)).status, 404);
    assert.equal((await api(`/channels/${CH2}/messages/${msg.id}`, { method: 'DELETE' })).status, 404);
  });

  it('injects 429 storms with shared scope', async () => {
    emu.set({ storm: { rate: 1, retryAfterSec: 0.2 } });
    try {
      const res = await api(`/channels/${CH}`);
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('x-ratelimit-scope'), 'shared');
      assert.equal(res.headers.get('retry-after'), '1');
      assert.deepEqual(await res.json(), { message: 'The resource is being rate limited.', retry_after: 0.2, global: false });
    } finally {
      emu.set({ storm: undefined });
    }
    assert.equal((await api(`/channels/${CH}`)).status, 200);
  });
});
