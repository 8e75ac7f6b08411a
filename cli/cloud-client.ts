/**
 * Node glue for the protocol client: opens a `ws` WebSocket (which can carry an Authorization
 * header on the upgrade, unlike a browser's) and hands it to the runtime-neutral ProtocolClient.
 */
import WebSocket from 'ws';
import { ProtocolClient, type ClientOptions, type WebSocketLike } from '../shared/protocol/client.js';
import { systemClock, systemTimers } from '../shared/time.js';

export interface ConnectOptions extends Partial<Omit<ClientOptions, 'token'>> {
  /** Sent as `Authorization: Bearer` on the upgrade. */
  readonly token?: string;
  /** Also send the token in HELLO (for servers behind proxies that strip the header). */
  readonly tokenInHello?: boolean;
}

/** Connects and completes the handshake; rejects with the server's coded error if it refuses. */
export async function connectCloud(url: string, opts: ConnectOptions = {}): Promise<ProtocolClient> {
  const ws = new WebSocket(url, {
    ...(opts.token !== undefined ? { headers: { authorization: `Bearer ${opts.token}` } } : {}),
    // Tensors are already dense binary; deflate would cost CPU for little.
    perMessageDeflate: false,
  });
  const { token, tokenInHello, ...rest } = opts;
  const client = new ProtocolClient(ws as unknown as WebSocketLike, {
    clock: systemClock,
    timers: systemTimers,
    ...rest,
    ...(token !== undefined && tokenInHello ? { token } : {}),
  });
  await client.ready;
  return client;
}
