/** Text shared by the Markdown and HTML review reports (plain strings; each renderer escapes them). */
export { pairLabel } from '../../protocol/report';

/** A p-value: "0.125", "3.1e-5". */
export function pValue(p: number): string {
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

