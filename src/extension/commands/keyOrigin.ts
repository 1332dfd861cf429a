/**
 * The origin an API key is bound to: scheme, host and port of a base URL (pure; no vscode import, unit tested).
 * A key stored for one origin is never sent to another: https://api.openai.com and https://api.openai.com:443 are
 * the same origin; http://localhost:8000 and http://localhost:8001 are not.
 */

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

export interface KeyOrigin {
  scheme: 'http' | 'https';
  /** Lower-case host name (IDNs in punycode, IPv6 in brackets, no trailing dot). */
  host: string;
  /** Always explicit: the scheme's default port when the URL names none. */
  port: number;
  /** `scheme://host:port`: the canonical form, used in SecretStorage key names and prompts. */
  origin: string;
}

/** Parses a base URL's origin; throws (naming the URL) for anything that is not an absolute http(s) URL. */
export function keyOrigin(baseUrl: string): KeyOrigin {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    throw new Error(`"${baseUrl}" is not an absolute URL (expected e.g. https://api.openai.com/v1 or http://localhost:8000/v1)`);
  }
  const defaultPort = DEFAULT_PORTS[url.protocol];
  if (!defaultPort) throw new Error(`"${baseUrl}" is not an http or https URL`);
  // URL lower-cases the host and punycodes IDNs; a trailing dot names the same host.
  const host = url.hostname.replace(/\.$/, '');
  if (!host) throw new Error(`"${baseUrl}" names no host`);
  const port = Number(url.port || defaultPort);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  return { scheme, host, port, origin: `${scheme}://${host}:${port}` };
}

/** True when both URLs have the same scheme, host and port. */
export function sameOrigin(a: string, b: string): boolean {
  return keyOrigin(a).origin === keyOrigin(b).origin;
}

/** The SecretStorage name of the key for `purpose` at `origin` (the canonical `scheme://host:port`). */
export function apiKeySecretName(purpose: string, origin: string): string {
  return `organismLab.apiKey:${purpose}:${origin}`;
}
