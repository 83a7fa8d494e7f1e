import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { log } from '../util/log.js';
import { datagramMac, datagramMacOk, type ClusterKey } from './auth.js';

/**
 * UDP discovery: a probe is broadcast on the discovery port; every node listening there answers
 * the sender (unicast) with its id, HTTP address and free capacity. Both messages carry an HMAC
 * with the cluster secret and a timestamp, so strangers' probes get no answer and strangers'
 * answers are ignored.
 */
export interface Announcement {
  id: string;
  address: string;
  free: number;
  capacity: number;
}

const MAX_AGE_MS = 60_000;

function seal(k: ClusterKey, fields: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify({ ...fields, mac: datagramMac(k, fields) }));
}

function open(k: ClusterKey, msg: Buffer): Record<string, unknown> | null {
  try {
    const fields = JSON.parse(msg.toString('utf8')) as Record<string, unknown>;
    if (typeof fields !== 'object' || fields === null || !datagramMacOk(k, fields)) return null;
    if (typeof fields.t !== 'number' || Math.abs(Date.now() - fields.t) > MAX_AGE_MS) return null;
    return fields;
  } catch {
    return null;
  }
}

/** A node's side: answers authenticated probes on the discovery port. */
export class DiscoveryResponder {
  private socket?: dgram.Socket;
  ignored = 0;

  constructor(private readonly k: ClusterKey, private readonly port: number, private readonly self: () => Announcement) {}

  start(): Promise<void> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      const probe = open(this.k, msg);
      if (!probe || probe.type !== 'probe' || typeof probe.nonce !== 'string') {
        this.ignored++;
        return;
      }
      const reply = seal(this.k, { type: 'here', t: Date.now(), nonce: probe.nonce, ...this.self() });
      socket.send(reply, rinfo.port, rinfo.address);
    });
    socket.on('error', (err) => log.warn({ err }, 'discovery socket error'));
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}

/** The searching side: broadcasts a probe and collects the authenticated answers for `waitMs`. */
export async function probe(k: ClusterKey, opts: { port: number; address: string; waitMs: number; onIgnored?: () => void }): Promise<Announcement[]> {
  const socket = dgram.createSocket('udp4');
  const nonce = randomBytes(12).toString('hex');
  const found = new Map<string, Announcement>();
  socket.on('message', (msg) => {
    const a = open(k, msg);
    if (!a || a.type !== 'here' || a.nonce !== nonce || typeof a.id !== 'string' || typeof a.address !== 'string') {
      opts.onIgnored?.();
      return;
    }
    found.set(a.id, { id: a.id, address: a.address, free: Number(a.free), capacity: Number(a.capacity) });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => resolve());
    });
    socket.setBroadcast(true);
    await new Promise<void>((resolve, reject) => {
      socket.send(seal(k, { type: 'probe', t: Date.now(), nonce }), opts.port, opts.address, (err) => (err ? reject(err) : resolve()));
    });
    await new Promise((r) => setTimeout(r, opts.waitMs));
  } catch (err) {
    log.warn({ err }, 'discovery probe failed');
  } finally {
    socket.close();
  }
  return [...found.values()];
}
