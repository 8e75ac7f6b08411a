/**
 * Node adapter for the cloud link: the `ws` package as the socket (it can carry the token as an
 * Authorization header on the upgrade, which the platform WebSocket cannot), the system clock and
 * timers, and Math.random for backoff jitter. The only edge file that imports `ws`.
 */
import WebSocket from 'ws';
import type { WebSocketLike } from '../shared/protocol/client.js';
import { systemClock, systemTimers } from '../shared/time.js';
import { CloudLink, type CloudLinkOptions } from './cloud-link.js';

/** Opens a protocol socket with `ws`: token as `Authorization: Bearer`, no permessage-deflate. */
export function nodeSocket(url: string, token: string | undefined): WebSocketLike {
  const ws = new WebSocket(url, {
    ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}),
    // Tensors are already dense binary; deflate would cost CPU for little.
    perMessageDeflate: false,
  });
  return ws as unknown as WebSocketLike;
}

type Injected = 'connect' | 'clock' | 'timers' | 'random';

/** CloudLink options with the runtime pieces optional: they default to Node's. */
export type NodeCloudLinkOptions = Omit<CloudLinkOptions, Injected> & Partial<Pick<CloudLinkOptions, Injected>>;

/** A CloudLink over `ws` with the system clock, timers and Math.random. Not started: call start(). */
export function nodeCloudLink(opts: NodeCloudLinkOptions): CloudLink {
  return new CloudLink({ connect: nodeSocket, clock: systemClock, timers: systemTimers, random: Math.random, ...opts });
}
