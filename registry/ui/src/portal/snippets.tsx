import { useState } from 'preact/hooks';
import { CopyButton } from '../shared/components.js';

const PLACEHOLDER = 'whsec_REVEAL_THE_SECRET_ABOVE';

/** A receiver in Node.js that checks signatures with the `standardwebhooks` package. */
export function nodeSnippet(secret: string | null): string {
  return `// npm install standardwebhooks   (then: node receiver.mjs)
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const wh = new Webhook('${secret ?? PLACEHOLDER}');

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8'); // the raw body, as signed
    let event;
    try {
      event = JSON.parse(body);
    } catch {
      return res.writeHead(400).end();
    }
    // The handshake when the endpoint is added: echo its token to activate the endpoint.
    if (event.type === 'endpoint.verification') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ token: event.data.token }));
    }
    try {
      wh.verify(body, req.headers); // checks webhook-id, -timestamp (5 min) and -signature
    } catch {
      return res.writeHead(401).end();
    }
    // Deliveries are at least once: deduplicate on webhook-id.
    console.log(req.headers['webhook-id'], event.type, JSON.stringify(event.data));
    res.writeHead(204).end();
  });
}).listen(3000);
`;
}

/** The same receiver in Python 3.9+, with the standard library only. */
export function pythonSnippet(secret: string | null): string {
  return `# python3 receiver.py
import base64, hashlib, hmac, json, time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = "${secret ?? PLACEHOLDER}"
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))

def signed_by_hookline(headers, body: bytes) -> bool:
    msg_id, ts = headers.get("webhook-id"), headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and ts and signatures and ts.isdigit()):
        return False
    if abs(time.time() - int(ts)) > 300:  # refuse replays older than 5 minutes
        return False
    mac = hmac.new(KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    return any(
        hmac.compare_digest(s[3:], expected) for s in signatures.split(" ") if s.startswith("v1,")
    )

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))  # raw bytes
        event = json.loads(body)
        if event.get("type") == "endpoint.verification":  # echo the token to activate
            out = json.dumps({"token": event["data"]["token"]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(out)
            return
        if not signed_by_hookline(self.headers, body):
            self.send_response(401)
            self.end_headers()
            return
        # Deliveries are at least once: deduplicate on webhook-id.
        print(self.headers["webhook-id"], event["type"], event["data"], flush=True)
        self.send_response(204)
        self.end_headers()

HTTPServer(("", 3000), Receiver).serve_forever()
`;
}

export function Snippets({ secret }: { secret: string | null }) {
  const [lang, setLang] = useState<'node' | 'python'>('node');
  const code = lang === 'node' ? nodeSnippet(secret) : pythonSnippet(secret);
  return (
    <section class="panel" aria-label="Verify signatures">
      <div class="spread">
        <h2>Verify the signature</h2>
        <div class="tabs">
          <button type="button" aria-pressed={lang === 'node'} onClick={() => setLang('node')}>
            Node.js
          </button>
          <button type="button" aria-pressed={lang === 'python'} onClick={() => setLang('python')}>
            Python
          </button>
        </div>
      </div>
      <p class="muted">
        Every event carries the{' '}
        <a href="https://www.standardwebhooks.com/" target="_blank" rel="noopener noreferrer">
          Standard Webhooks
        </a>{' '}
        headers <code>webhook-id</code>, <code>webhook-timestamp</code> and{' '}
        <code>webhook-signature</code>.{' '}
        {secret
          ? 'The snippet holds this endpoint’s real secret: keep it out of source control (an environment variable is better).'
          : 'Reveal the secret above to fill it in.'}
      </p>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard */}
      <pre class="json" tabIndex={0} data-testid={`snippet-${lang}`}>
        <code>{code}</code>
      </pre>
      <CopyButton text={code} label="Copy the code" />
    </section>
  );
}
