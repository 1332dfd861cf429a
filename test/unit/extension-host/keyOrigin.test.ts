import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { apiKeySecretName, DEFAULT_OPENAI_BASE_URL, keyOrigin, sameOrigin } from '../../../src/extension/commands/keyOrigin';

describe('keyOrigin: the scheme, host and port an API key is bound to', () => {
  test('default ports are made explicit; the path, query and fragment do not matter', () => {
    assert.equal(keyOrigin(DEFAULT_OPENAI_BASE_URL).origin, 'https://api.openai.com:443');
    assert.equal(keyOrigin('https://api.openai.com:443/v1/chat/completions?x=1#y').origin, 'https://api.openai.com:443');
    assert.equal(keyOrigin('http://localhost/v1').origin, 'http://localhost:80');
    assert.equal(keyOrigin('http://localhost:8000/v1').origin, 'http://localhost:8000');
    assert.deepEqual(keyOrigin('http://127.0.0.1:8000'), { scheme: 'http', host: '127.0.0.1', port: 8000, origin: 'http://127.0.0.1:8000' });
  });

  test('host case, a trailing dot and surrounding blanks name the same origin', () => {
    assert.equal(keyOrigin('  HTTPS://API.OpenAI.COM./v1 ').origin, 'https://api.openai.com:443');
    assert.ok(sameOrigin('https://api.openai.com/v1', 'https://API.openai.com:443/other'));
  });

  test('another scheme, host, subdomain or port is another origin', () => {
    assert.ok(!sameOrigin('https://api.openai.com/v1', 'http://api.openai.com/v1'));
    assert.ok(!sameOrigin('https://api.openai.com/v1', 'https://api.openai.com.evil.example/v1'));
    assert.ok(!sameOrigin('https://api.openai.com/v1', 'https://evil.api.openai.com/v1'));
    assert.ok(!sameOrigin('http://localhost:8000/v1', 'http://localhost:8001/v1'));
    assert.ok(!sameOrigin('http://localhost:80/v1', 'http://localhost:443/v1'));
  });

  test('credentials in the URL do not change the host (no user@host confusion)', () => {
    assert.equal(keyOrigin('https://api.openai.com@evil.example/v1').origin, 'https://evil.example:443');
    assert.equal(keyOrigin('https://user:pw@api.openai.com/v1').origin, 'https://api.openai.com:443');
  });

  test('IPv6 hosts keep their brackets; IDNs are punycoded', () => {
    assert.equal(keyOrigin('http://[::1]:8000/v1').origin, 'http://[::1]:8000');
    assert.equal(keyOrigin('https://bücher.example/v1').origin, 'https://xn--bcher-kva.example:443');
  });

  test('anything but an absolute http(s) URL is refused with the URL in the message', () => {
    assert.throws(() => keyOrigin('api.openai.com/v1'), /"api\.openai\.com\/v1" is not an absolute URL/);
    assert.throws(() => keyOrigin(''), /not an absolute URL/);
    assert.throws(() => keyOrigin('file:///etc/passwd'), /not an http or https URL/);
    assert.throws(() => keyOrigin('ftp://example.com'), /not an http or https URL/);
  });

  test('the SecretStorage name carries the purpose and the canonical origin', () => {
    assert.equal(apiKeySecretName('judge', keyOrigin(DEFAULT_OPENAI_BASE_URL).origin), 'organismLab.apiKey:judge:https://api.openai.com:443');
    assert.notEqual(apiKeySecretName('server', 'http://localhost:8000'), apiKeySecretName('judge', 'http://localhost:8000'));
  });
});
