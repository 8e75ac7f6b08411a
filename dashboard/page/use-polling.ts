/**
 * Polls `load` every `intervalMs` (default 2000 ms) while the tab is visible: a hidden tab stops
 * asking (no load on the edge for a page nobody looks at) and asks at once when it shows again.
 * One request at a time: a slow answer delays the next poll instead of piling requests up.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

/** Default poll interval, ms. */
export const POLL_MS = 2000;

export interface Polled<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  /** performance.now() of the last answer, ms. */
  readonly at: number | undefined;
  /** True while the tab is hidden and polling is paused. */
  readonly paused: boolean;
  /** Asks now, outside the schedule (after a deploy or a run). */
  refresh(): void;
}

export function usePolling<T>(load: (() => Promise<T>) | undefined, deps: readonly unknown[], intervalMs = POLL_MS): Polled<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; at: number | undefined }>({ data: undefined, error: undefined, at: undefined });
  const [paused, setPaused] = useState(typeof document !== 'undefined' && document.hidden);
  const kick = useRef<() => void>(() => undefined);

  useEffect(() => {
    if (!load) {
      setState({ data: undefined, error: undefined, at: undefined });
      return undefined;
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    const tick = async (): Promise<void> => {
      if (stopped || inFlight) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (document.hidden) return;
      inFlight = true;
      try {
        const data = await load();
        if (!stopped) setState({ data, error: undefined, at: performance.now() });
      } catch (e) {
        if (!stopped) setState((s) => ({ ...s, error: e as Error, at: performance.now() }));
      } finally {
        inFlight = false;
      }
      if (!stopped && !document.hidden) timer = setTimeout(() => void tick(), intervalMs);
    };
    const onVisibility = (): void => {
      setPaused(document.hidden);
      if (!document.hidden) void tick();
    };
    kick.current = () => void tick();
    document.addEventListener('visibilitychange', onVisibility);
    void tick();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return { ...state, paused, refresh: () => kick.current() };
}
