/**
 * A minimal typed event emitter: one listener map keyed by event name. A throwing listener is reported
 * to `onListenerError` and does not stop the other listeners or the emitter's caller.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

export type EventMap = { [event: string]: unknown[] };
export type Listener<Args extends unknown[]> = (...args: Args) => void;

export interface TypedEmitter<E extends EventMap> {
  on<K extends keyof E>(event: K, fn: Listener<E[K]>): void;
  off<K extends keyof E>(event: K, fn: Listener<E[K]>): void;
  emit<K extends keyof E>(event: K, ...args: E[K]): void;
  listenerCount<K extends keyof E>(event: K): number;
  removeAll(): void;
}

export function createEmitter<E extends EventMap>(
  onListenerError: (event: string, err: unknown) => void,
): TypedEmitter<E> {
  const listeners = new Map<keyof E, Listener<never[]>[]>();
  return {
    on(event, fn) {
      const list = listeners.get(event) ?? [];
      list.push(fn as unknown as Listener<never[]>);
      listeners.set(event, list);
    },
    off(event, fn) {
      const list = listeners.get(event);
      if (!list) return;
      const i = list.indexOf(fn as unknown as Listener<never[]>);
      if (i >= 0) list.splice(i, 1);
    },
    emit(event, ...args) {
      const list = listeners.get(event);
      if (!list || list.length === 0) return;
      for (const fn of [...list]) {
        try {
          (fn as unknown as Listener<E[typeof event]>)(...args);
        } catch (err) {
          onListenerError(String(event), err);
        }
      }
    },
    listenerCount(event) {
      return listeners.get(event)?.length ?? 0;
    },
    removeAll() {
      listeners.clear();
    },
  };
}
