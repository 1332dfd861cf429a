/**
 * Reading Inspect AI logs: `.eval` (a zip: header.json, or _journal/start.json for a log still running, plus
 * samples/*.json and reductions.json) and `.json` (one EvalLog object with its samples). As inspect_ai reads a
 * zip, a name written twice resolves to its last entry. Errors name the file and the part that is wrong.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { open as openZip, type Entry, type ZipFile } from 'yauzl';
import type { InspectLog, InspectLogHeader, InspectSample, InspectSampleReductions } from './inspectTypes';

/** Largest single zip member read (a sample with big attachments stays well under this). */
const MAX_MEMBER_BYTES = 512 * 1024 * 1024;
/** Largest `.json` log read whole. */
const MAX_JSON_LOG_BYTES = 1024 * 1024 * 1024;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkHeader(h: unknown, file: string, part: string): InspectLogHeader {
  if (!isObj(h)) throw new Error(`${file}: ${part} is not a JSON object; this is not an Inspect log.`);
  const ev = h.eval;
  if (!isObj(ev)) throw new Error(`${file}: ${part} has no "eval" object (the task, model and dataset); this is not an Inspect log, or it is damaged.`);
  if (typeof ev.model !== 'string') throw new Error(`${file}: ${part} field "eval.model" must be a string (the model that was evaluated), got ${JSON.stringify(ev.model)?.slice(0, 60)}.`);
  if (typeof ev.task !== 'string') throw new Error(`${file}: ${part} field "eval.task" must be a string (the task name), got ${JSON.stringify(ev.task)?.slice(0, 60)}.`);
  return h as unknown as InspectLogHeader;
}

function checkSample(s: unknown, file: string, part: string): InspectSample {
  if (!isObj(s)) throw new Error(`${file}: ${part} is not a JSON object (an Inspect sample).`);
  if (typeof s.id !== 'string' && typeof s.id !== 'number') throw new Error(`${file}: ${part} field "id" must be a string or number, got ${JSON.stringify(s.id)?.slice(0, 60)}.`);
  if (!Number.isInteger(s.epoch) || (s.epoch as number) < 1) throw new Error(`${file}: ${part} field "epoch" must be an integer ≥ 1, got ${JSON.stringify(s.epoch)}.`);
  if (typeof s.input !== 'string' && !Array.isArray(s.input)) throw new Error(`${file}: ${part} field "input" must be a string or a list of chat messages.`);
  return s as unknown as InspectSample;
}

function parseJson(buf: Buffer, file: string, part: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new Error(`${file}: ${part} is not valid JSON (${(e as Error).message}); the log is damaged.`);
  }
}

function openZipFile(file: string): Promise<ZipFile> {
  return new Promise((resolve, reject) =>
    openZip(file, { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true }, (err, zf) => (err ? reject(new Error(`${file}: not a readable .eval zip (${err.message}).`)) : resolve(zf))),
  );
}

function readMember(zf: ZipFile, entry: Entry, file: string): Promise<Buffer> {
  if (entry.uncompressedSize > MAX_MEMBER_BYTES) {
    return Promise.reject(new Error(`${file}: member ${entry.fileName} is ${entry.uncompressedSize} bytes, over the ${MAX_MEMBER_BYTES}-byte limit this reader accepts.`));
  }
  return new Promise((resolve, reject) => {
    zf.openReadStream(entry, (err, stream) => {
      if (err) return reject(new Error(`${file}: cannot read ${entry.fileName} (${err.message}).`));
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (e: Error) => reject(new Error(`${file}: cannot read ${entry.fileName} (${e.message}).`)));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
    });
  });
}

/** Every member of a zip by name (the last entry of a repeated name wins), read whole. */
async function readZipMembers(file: string, wanted: (name: string) => boolean): Promise<Map<string, Buffer>> {
  const zf = await openZipFile(file);
  const entries = new Map<string, Entry>();
  try {
    await new Promise<void>((resolve, reject) => {
      zf.on('entry', (e: Entry) => {
        if (wanted(e.fileName)) entries.set(e.fileName, e);
        zf.readEntry();
      });
      zf.on('end', () => resolve());
      zf.on('error', (e: Error) => reject(new Error(`${file}: damaged zip (${e.message}).`)));
      zf.readEntry();
    });
    const out = new Map<string, Buffer>();
    for (const [name, e] of entries) out.set(name, await readMember(zf, e, file));
    return out;
  } finally {
    zf.close();
  }
}

async function readEvalZip(file: string): Promise<InspectLog> {
  const members = await readZipMembers(file, (n) => n === 'header.json' || n === '_journal/start.json' || n === 'reductions.json' || (n.startsWith('samples/') && n.endsWith('.json')));
  const headerBuf = members.get('header.json') ?? members.get('_journal/start.json');
  if (!headerBuf) throw new Error(`${file}: no header.json or _journal/start.json in the zip; this is not an Inspect .eval log.`);
  const part = members.has('header.json') ? 'header.json' : '_journal/start.json';
  const header = checkHeader(parseJson(headerBuf, file, part), file, part);
  const samples: InspectSample[] = [];
  for (const [name, buf] of members) {
    if (!name.startsWith('samples/')) continue;
    samples.push(checkSample(parseJson(buf, file, name), file, name));
  }
  const red = members.get('reductions.json');
  const reductions = red ? (parseJson(red, file, 'reductions.json') as InspectSampleReductions[]) : [];
  return { header, samples, reductions: Array.isArray(reductions) ? reductions : [] };
}

function readJsonLog(file: string): InspectLog {
  const size = statSync(file).size;
  if (size > MAX_JSON_LOG_BYTES) throw new Error(`${file}: ${size} bytes, over the ${MAX_JSON_LOG_BYTES}-byte limit for a .json log; convert it to .eval with \`inspect log convert --to eval\`.`);
  const log = parseJson(readFileSync(file), file, 'the log');
  const header = checkHeader(log, file, 'the log');
  const raw = (log as { samples?: unknown }).samples;
  if (raw !== undefined && raw !== null && !Array.isArray(raw)) throw new Error(`${file}: field "samples" must be a list of samples.`);
  const samples = ((raw as unknown[] | null | undefined) ?? []).map((s, i) => checkSample(s, file, `samples[${i}]`));
  const reductions = (log as { reductions?: unknown }).reductions;
  return { header, samples, reductions: Array.isArray(reductions) ? (reductions as InspectSampleReductions[]) : [] };
}

/** Reads an Inspect log (`.eval` zip or `.json`), told apart by its first bytes as inspect_ai does. */
export async function readInspectLog(file: string): Promise<InspectLog> {
  let first = Buffer.alloc(16);
  try {
    const fd = openSync(file, 'r');
    try {
      first = first.subarray(0, readSync(fd, first, 0, first.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new Error(`${file}: cannot read the Inspect log (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
  if (first.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) return readEvalZip(file);
  if (first.length && first.toString('utf8').trimStart().startsWith('{')) return readJsonLog(file);
  throw new Error(`${file}: neither an .eval zip nor a .json Inspect log (it starts with ${JSON.stringify(first.subarray(0, 4).toString('latin1'))}).`);
}
