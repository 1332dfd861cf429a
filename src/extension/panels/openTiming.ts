/**
 * How long opening a panel took, measured and written to the extension's log once its first content is there:
 *   "opened Compare for x.run.jsonl in 812 ms: engine host start 640 ms, report 9 ms, page ready 310 ms, samples sent 318 ms"
 * Each part is the time from the command (the panel's creation) to that milestone, except "engine host start"
 * (the fork + initialize this panel waited on; "running" when the host was already up) and "report" (the request's
 * own duration once sent). The engine host is started when the panel opens, in parallel with the page loading.
 */
import type * as vscode from 'vscode';
import type { EngineHostClient } from '../engine/client';

export class OpenTiming {
  private readonly t0 = performance.now();
  private readonly parts = new Map<string, string>();
  private logged = false;

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly panel: string,
    private readonly target: string,
    /** The milestones that complete the opening (logged when all are there). */
    private readonly needed: readonly string[],
  ) {}

  /** ms since the panel was opened. */
  now(): number {
    return Math.round(performance.now() - this.t0);
  }

  /** Records a milestone at the current time (the first time only). */
  mark(name: string): void {
    this.set(name, `${this.now()} ms`);
  }

  /** Records a part's own value (a duration, "running"). */
  set(name: string, value: string): void {
    if (this.logged || this.parts.has(name)) return;
    this.parts.set(name, value);
    if (this.needed.every((n) => this.parts.has(n))) {
      this.logged = true;
      this.log.info(`opened ${this.panel} for ${this.target} in ${this.now()} ms: ${[...this.parts].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
  }

  /** The panel closed: when it never showed all of its first content, says what it had and what it was waiting on. */
  closed(): void {
    if (this.logged) return;
    this.logged = true;
    const had = [...this.parts].map(([k, v]) => `${k} ${v}`).join(', ') || 'nothing';
    const missing = this.needed.filter((n) => !this.parts.has(n)).join(', ');
    this.log.info(`${this.panel} for ${this.target} closed after ${this.now()} ms before its first content was complete: had ${had}; still waiting on ${missing}`);
  }

  /** Times `request` (its own duration) as the part `name`. */
  async time<T>(name: string, request: () => Promise<T>): Promise<T> {
    if (this.logged || this.parts.has(name)) return request();
    const t = performance.now();
    try {
      return await request();
    } finally {
      this.set(name, `${Math.round(performance.now() - t)} ms`);
    }
  }

  /**
   * Starts the engine host now (when it is not running) so its start overlaps the page's loading, and records how
   * long it took as "engine host start". A failed start is left to the request that needs the host to report.
   */
  warmEngine(client: EngineHostClient): void {
    if (client.running) {
      this.set('engine host start', 'running');
      return;
    }
    const t = performance.now();
    client.start().then(
      () => this.set('engine host start', `${Math.round(performance.now() - t)} ms`),
      () => this.set('engine host start', 'failed'),
    );
  }
}
