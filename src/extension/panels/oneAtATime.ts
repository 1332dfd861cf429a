/**
 * An async task run one at a time: a call while it runs is served, together with every other call made meanwhile,
 * by one more run after it (so what changed during a run is seen, and slow answers do not pile up requests).
 * No vscode import, so it is unit-tested directly.
 */
export class OneAtATime {
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;

  constructor(private readonly task: () => Promise<void>) {}

  /** Resolves once a run that started after this call has finished (the task's failures are its own to handle). */
  run(): Promise<void> {
    if (this.next) return this.next;
    if (!this.running) {
      this.running = this.task().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    this.next = this.running.then(
      () => this.startNext(),
      () => this.startNext(),
    );
    return this.next;
  }

  private startNext(): Promise<void> {
    this.next = null;
    return this.run();
  }
}
