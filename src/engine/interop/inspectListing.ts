/**
 * The `listing.json` of a statically served Inspect log folder: what `inspect view bundle` writes next to the
 * logs (inspect_ai log/_file.py `write_log_listing` and `to_overview`), and what Inspect's log viewer reads in
 * static mode to list the logs without a server: `{ "<file name relative to the folder>": LogOverview }`.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readInspectLog } from './inspectReader';
import type { InspectEvalMetric, InspectLogHeader } from './inspectTypes';

/** inspect_ai's LogOverview: the thinned header the viewer's log list shows. */
export interface InspectLogOverview {
  eval_id: string;
  run_id: string;
  task: string;
  task_id: string;
  task_version: number | string;
  version: number;
  status: InspectLogHeader['status'];
  invalidated: boolean;
  error: unknown;
  model: string;
  model_roles: Record<string, string> | null;
  started_at: string;
  completed_at: string;
  /** The first metric of the first score, as `to_overview` picks it. */
  primary_metric: InspectEvalMetric | null;
}

/** `to_overview(header)`: the listing entry of one log. */
export function inspectLogOverview(header: InspectLogHeader): InspectLogOverview {
  const first = header.results?.scores[0];
  const primary = first ? (Object.values(first.metrics)[0] ?? null) : null;
  const roles = header.eval.model_roles as Record<string, { model: string }> | null | undefined;
  return {
    eval_id: String(header.eval.eval_id ?? ''),
    run_id: String(header.eval.run_id ?? ''),
    task: header.eval.task,
    task_id: String(header.eval.task_id ?? ''),
    task_version: typeof header.eval.task_version === 'number' || typeof header.eval.task_version === 'string' ? header.eval.task_version : 0,
    version: header.version,
    status: header.status,
    invalidated: header.invalidated === true,
    error: header.error ?? null,
    model: header.eval.model,
    model_roles: roles ? Object.fromEntries(Object.entries(roles).map(([role, cfg]) => [role, cfg.model])) : null,
    started_at: header.stats.started_at,
    completed_at: header.stats.completed_at,
    primary_metric: primary,
  };
}

/** Writes `DIR/listing.json` for the `.eval` and `.json` logs directly in DIR (sorted by name); returns its path. */
export async function writeInspectListing(dir: string): Promise<string> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => (n.endsWith('.eval') || n.endsWith('.json')) && n !== 'listing.json' && n !== 'eval-set.json');
  } catch (e) {
    throw new Error(`Cannot list the Inspect log folder ${dir}: ${(e as Error).message}.`);
  }
  if (!names.length) throw new Error(`${dir}: no .eval or .json Inspect logs to list.`);
  const listing: Record<string, InspectLogOverview> = {};
  for (const name of names.sort()) listing[name] = inspectLogOverview((await readInspectLog(path.join(dir, name))).header);
  const out = path.join(dir, 'listing.json');
  writeFileSync(out, JSON.stringify(listing, null, 2));
  return out;
}
