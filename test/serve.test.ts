// SPDX-License-Identifier: MIT
// `blasnet serve` in Debian's headless Chromium: a SimpleConvNet trained here by `blasnet
// train` (>= 97% on the built-in test digits) is served by the real command; strokes of a
// 1, a 7 and a 0 are drawn with the mouse; the page must recognise each digit, and its
// onnxruntime-web result must equal blasnet's predict on the very 28x28 input the page
// computed (which must look like an MNIST digit: in [0, 1], fitted to 20 pixels, centred by
// mass). Nothing may be loaded from anywhere but the local server, and the page must run
// under its Content-Security-Policy without errors.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { loadMnist, loadNetwork, MultiLayerNet, Sequential, SimpleConvNet, Tensor } from '../lib';
import { serveDigits } from '../lib/serve/server';
import { main } from '../lib/cli/main';
import { ensureBuilt, ROOT } from './helpers/dist';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`serve.test: skipping the browser check, ${CHROMIUM} is absent (apt-get install chromium)`);

const BIN = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
let tmp = '';
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-serve-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

function quietIo(): { io: { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean }; cwd: string }; out: string[]; err: string[] } {
  const out: string[] = [], err: string[] = [];
  return { io: { stdout: { write: (s) => out.push(s) > 0 }, stderr: { write: (s) => err.push(s) > 0 }, cwd: tmp }, out, err };
}

/** GET (or another method) with a chosen Host header, straight to the server. */
function request(port: number, urlPath: string, opts: { method?: string; host?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: opts.method ?? 'GET', headers: { Host: opts.host ?? `127.0.0.1:${port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('blasnet serve refuses what it cannot serve', () => {
  test('a missing model is a usage error; a network that does not take 28x28 digits is refused', async () => {
    const a = quietIo();
    expect(await main(['serve', '--model', 'nope.safetensors', '--port', '0'], a.io)).toBe(2);
    expect(a.err.join('')).toContain('--model nope.safetensors: no such file');

    new MultiLayerNet({ inputSize: 100, hiddenSizeList: [5], outputSize: 3 }).saveParams(path.join(tmp, 'small.safetensors'));
    const b = quietIo();
    expect(await main(['serve', '--model', 'small.safetensors', '--port', '0'], b.io)).toBe(1);
    expect(b.err.join('')).toContain('the page draws 28x28 digits; this network takes [100] per sample');
    const c = quietIo();
    expect(await main(['serve', '--model', 'small.safetensors', '--port', '70000'], c.io)).toBe(2);
    expect(c.err.join('')).toContain('--port 70000: ports go up to 65535');
  });

  test('a port in use is named, with the way out', async () => {
    const busy = http.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const taken = (busy.address() as { port: number }).port;
    try {
      await expect(serveDigits(new SimpleConvNet(), { port: taken })).rejects.toThrow(`serveDigits: port ${taken} on 127.0.0.1 is in use; choose another`);
    } finally {
      busy.close();
    }
    await expect(serveDigits(new SimpleConvNet(), { port: -1 })).rejects.toThrow(RangeError);
    await expect(serveDigits(new SimpleConvNet(), { prot: 1 } as never)).rejects.toThrow(/unknown option 'prot' \(did you mean 'port'\?\)/);
  });
});

interface PageState { state: string; count: number; input: number[]; logits: number[]; probabilities: number[]; prediction: number; error: string | null }

/** A stroke as points on the 280x280 drawing canvas. */
type Stroke = Array<[number, number]>;

const DIGITS: Array<{ digit: number; strokes: Stroke[] }> = [
  { digit: 1, strokes: [[[150, 45], [145, 120], [138, 235]]] },
  { digit: 7, strokes: [[[75, 60], [205, 60], [165, 140], [120, 235]]] },
  {
    digit: 0,
    strokes: [Array.from({ length: 33 }, (_, k): [number, number] => {
      const a = (k / 32) * 2 * Math.PI;
      return [140 + 55 * Math.sin(a), 140 - 85 * Math.cos(a)];
    })],
  },
];

(haveChromium ? describe : describe.skip)('the drawing page in headless Chromium', () => {
  let child: ChildProcess | null = null;
  let net: Sequential;
  let url = '';
  let port = 0;
  let stdout = '';

  beforeAll(async () => {
    // The quick start's model: `blasnet train` with its defaults (about 98.7% on the built-in digits).
    const t = quietIo();
    expect(await main(['train', '--out', 'run', '--seed', '1'], t.io)).toBe(0);
    const model = path.join(tmp, 'run', 'model.safetensors');
    net = loadNetwork(model);
    const data = loadMnist({ flatten: false });
    expect(net.accuracy(data.xTest, data.tTest)).toBeGreaterThanOrEqual(0.97);

    ensureBuilt(BIN);
    child = spawn(process.execPath, [BIN, 'serve', '--model', model, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      let err = '';
      child!.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /serving (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(stdout);
        if (m) { port = Number(m[2]); resolve(m[1]); }
      });
      child!.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
      child!.on('exit', (code) => reject(new Error(`blasnet serve exited with ${code}: ${err}`)));
    });
  }, 300000);

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  test('the server: local files only, its CSP, only its own host name, GET only', async () => {
    const page = await request(port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self' 'wasm-unsafe-eval'/);
    expect(page.body.toString()).toContain('<canvas id="pad"');
    const wasm = await request(port, '/ort/ort-wasm-simd-threaded.wasm', { method: 'HEAD' });
    expect(wasm.status).toBe(200);
    expect(wasm.headers['content-type']).toBe('application/wasm');
    const onnx = await request(port, '/model.onnx');
    expect(onnx.status).toBe(200);
    expect(onnx.body.length).toBeGreaterThan(1000);
    for (const p of ['/ort/../package.json', '/ort/ort.min.js', '/../../package.json', '/lib/serve/server.ts']) {
      expect((await request(port, p)).status).toBe(404);
    }
    expect((await request(port, '/', { host: 'attacker.test' })).status).toBe(403);
    expect((await request(port, '/', { host: `localhost:${port}` })).status).toBe(200);
    expect((await request(port, '/', { method: 'POST' })).status).toBe(405);
  });

  test('drawn 1, 7 and 0 are recognised, and the page computes what blasnet predicts on its input', async () => {
    const { chromium } = await import('playwright-core');
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const outside: string[] = [], problems: string[] = [];
    try {
      const page = context.pages()[0] ?? await context.newPage();
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      await page.route('**/*', (route) => {
        const u = route.request().url();
        if (u.startsWith(url)) return route.continue();
        outside.push(u);
        return route.abort();
      });
      await page.goto(url);
      // Functions, not strings: the page's CSP forbids evaluating strings as code.
      // (Self-contained: each function is sent to the page as source.)
      await page.waitForFunction(() => {
        const st = (globalThis as unknown as { blasnet?: PageState }).blasnet;
        return st !== undefined && st.state !== 'loading';
      }, null, { timeout: 60000 });
      expect(await page.evaluate('window.blasnet.error')).toBeNull();
      expect(await page.evaluate('window.blasnet.state')).toBe('ready');
      const box = await page.locator('#pad').boundingBox();
      if (!box) throw new Error('no drawing canvas');
      const scale = box.width / 280;

      for (const { digit, strokes } of DIGITS) {
        const before = await page.evaluate('window.blasnet.count') as number;
        for (const stroke of strokes) {
          await page.mouse.move(box.x + stroke[0][0] * scale, box.y + stroke[0][1] * scale);
          await page.mouse.down();
          for (const [x, y] of stroke.slice(1)) await page.mouse.move(box.x + x * scale, box.y + y * scale, { steps: 6 });
          await page.mouse.up();
        }
        await page.waitForFunction((n) => ((globalThis as unknown as { blasnet: PageState }).blasnet.count >= n), before + strokes.length, { timeout: 30000 });
        const s = await page.evaluate('window.blasnet') as PageState;
        expect(await page.locator('#prediction').textContent()).toBe(String(s.prediction));

        // The input looks like an MNIST digit: [0, 1], full white, fitted to 20 pixels, centred by mass.
        const x = Float32Array.from(s.input);
        expect(x.length).toBe(784);
        let mx = 0, my = 0, mass = 0, peak = 0, lo = Infinity, x0 = 28, x1 = -1, y0 = 28, y1 = -1;
        x.forEach((v, k) => {
          const r = Math.floor(k / 28), c = k % 28;
          lo = Math.min(lo, v); peak = Math.max(peak, v);
          mass += v; mx += (c + 0.5) * v; my += (r + 0.5) * v;
          if (v > 0) { x0 = Math.min(x0, c); x1 = Math.max(x1, c); y0 = Math.min(y0, r); y1 = Math.max(y1, r); }
        });
        expect(lo).toBe(0);
        expect(peak).toBe(1);
        expect(Math.max(x1 - x0 + 1, y1 - y0 + 1)).toBe(20);
        expect(Math.abs(mx / mass - 14)).toBeLessThanOrEqual(0.5 + 1e-6);
        expect(Math.abs(my / mass - 14)).toBeLessThanOrEqual(0.5 + 1e-6);

        // blasnet on the page's own input: same logits (to 1e-4) and the same class.
        const ours = net.predict(new Tensor(x, [1, 1, 28, 28])).data;
        let diff = 0, best = 0;
        for (let c = 0; c < 10; c++) {
          diff = Math.max(diff, Math.abs(ours[c] - s.logits[c]));
          if (ours[c] > ours[best]) best = c;
        }
        console.log(`serve.test: drew ${digit}, page says ${s.prediction} (p = ${s.probabilities[s.prediction].toFixed(4)}), `
          + `blasnet says ${best}; max |logit diff| ${diff.toExponential(2)}`);
        expect(diff).toBeLessThan(1e-4);
        expect(best).toBe(s.prediction);
        expect(s.prediction).toBe(digit);
        await page.click('#clear');
      }
      const shot = await page.screenshot();
      expect(shot.length).toBeGreaterThan(1000);
    } finally {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
  }, 180000);

  test('Ctrl-C stops the server cleanly (exit 0)', async () => {
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    child!.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout).toContain('stopped');
  });
});
