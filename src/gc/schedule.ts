/** Garbage collection on a timer, inside the process that serves and writes the tree. */
import type { GcReport } from "./gc.ts";

/**
 * Runs `collect` every `intervalMs` (after the previous run ends, so runs
 * never overlap) and tells `onResult`; returns a function that stops the
 * schedule and waits for a run in progress.
 */
export function scheduleGc(
  intervalMs: number,
  collect: () => Promise<GcReport>,
  onResult: (result: GcReport | Error) => void,
): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = collect()
        .then(onResult, (err: unknown) => onResult(err as Error))
        .finally(tick);
    }, intervalMs);
    timer.unref();
  };
  tick();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
