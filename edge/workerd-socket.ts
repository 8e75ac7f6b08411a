/**
 * An outbound WebSocket from workerd, in the WHATWG shape ProtocolClient drives. Workers open
 * client WebSockets with `fetch(url, { headers: { Upgrade: 'websocket' } })` and `accept()` the
 * socket on the response; that is asynchronous, while CloudLink's `connect` returns a socket at
 * once. So this adapter starts CONNECTING, queues nothing (the client sends only after 'open'),
 * and dispatches 'open', 'message', 'close' and 'error' as the platform socket does.
 */
import type { WebSocketLike } from '../shared/protocol/client.js';

type Listener = (ev: never) => void;

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

export class FetchUpgradeSocket implements WebSocketLike {
  binaryType = 'arraybuffer';
  private state = CONNECTING;
  private socket: WorkersWebSocket | undefined;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(url: string, token: string | undefined, fetcher: typeof fetch = fetch) {
    // workerd's fetch speaks http(s); the Upgrade header turns the request into a WebSocket.
    const httpUrl = url.replace(/^ws(s?):\/\//, 'http$1://');
    const headers: Record<string, string> = { upgrade: 'websocket' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    fetcher(httpUrl, { headers }).then((res) => {
      const ws = (res as unknown as { webSocket?: WorkersWebSocket | null }).webSocket;
      if (!ws) {
        this.fail(1006, `the cloud answered the upgrade with HTTP ${res.status}`);
        return;
      }
      if (this.state === CLOSED) {
        ws.accept();
        ws.close(1000, 'closed before open');
        return;
      }
      ws.accept();
      // workerd hands binary messages out as Blob from compatibility date 2026-03-17 (flag
      // websocket_standard_binary_type, the WHATWG default); the protocol client reads ArrayBuffers,
      // synchronously and in order.
      ws.binaryType = 'arraybuffer';
      this.socket = ws;
      this.state = OPEN;
      ws.addEventListener('message', (ev) => this.emit('message', { data: ev.data }));
      ws.addEventListener('close', (ev) => this.fail(ev.code, ev.reason));
      ws.addEventListener('error', (ev) => this.emit('error', ev));
      this.emit('open', undefined);
    }, (e: unknown) => this.fail(1006, `could not reach the cloud: ${(e as Error).message}`));
  }

  get readyState(): number {
    return this.state;
  }

  send(data: Uint8Array): void {
    this.socket?.send(data);
  }

  close(code = 1000, reason = ''): void {
    if (this.state === CLOSED) return;
    this.socket?.close(code, reason);
    this.fail(code, reason);
  }

  addEventListener(type: string, listener: (ev: never) => void): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  private fail(code: number, reason: string): void {
    if (this.state === CLOSED) return;
    const wasConnecting = this.state === CONNECTING;
    this.state = CLOSED;
    if (wasConnecting) this.emit('error', { message: reason });
    this.emit('close', { code, reason });
  }

  private emit(type: string, ev: unknown): void {
    for (const l of this.listeners.get(type) ?? []) (l as (e: unknown) => void)(ev);
  }
}
