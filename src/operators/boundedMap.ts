/**
 * `boundedMap(fn, options)`: runs an async stage one item at a time with at most
 * `maxQueue` items waiting. When the stage falls behind a live source, the oldest waiting
 * item is dropped and counted; behind a file source, the source is paused through `flow`
 * instead, so nothing is lost. Never an unbounded queue in front of a model.
 *
 * @example
 *   frames$.pipe(boundedMap((f) => detector.detect(f), { maxQueue: 4, live: true, onDrop: () => stats.dropped++ }))
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { Flow } from '../ingest/flow.ts';

export interface BoundedMapOptions<T> {
  maxQueue: number;
  live: boolean;
  flow?: Flow;
  onDrop?: (item: T) => void;
}

export function boundedMap<T, R>(fn: (item: T) => Promise<R> | R, options: BoundedMapOptions<T>): OperatorFunction<T, R> {
  const maxQueue = Math.max(1, options.maxQueue);
  return (source) => new Observable<R>((subscriber) => {
    const queue: T[] = [];
    let busy = false;
    let sourceDone = false;
    let closed = false;

    const pump = async () => {
      if (busy || closed) return;
      busy = true;
      while (queue.length && !closed) {
        const item = queue.shift()!;
        if (options.flow?.isPaused && queue.length < maxQueue) options.flow.resume();
        try {
          const result = await fn(item);
          if (!closed) subscriber.next(result);
        } catch (err) {
          closed = true;
          subscriber.error(err);
          return;
        }
      }
      busy = false;
      if (sourceDone && !closed) { closed = true; subscriber.complete(); }
    };

    const sub = source.subscribe({
      next: (item) => {
        queue.push(item);
        if (queue.length > maxQueue && options.live) options.onDrop?.(queue.shift()!);
        if (!options.live && options.flow && queue.length >= maxQueue) options.flow.pause();
        void pump();
      },
      error: (err) => { closed = true; subscriber.error(err); },
      complete: () => {
        sourceDone = true;
        if (!busy && !queue.length && !closed) { closed = true; subscriber.complete(); }
      },
    });
    return () => {
      closed = true;
      queue.length = 0;
      sub.unsubscribe();
    };
  });
}
