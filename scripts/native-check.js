#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The checks of the native code, for contributors and CI (.ci/run):
//
//   node scripts/native-check.js <check>... [--fix] [--json FILE]
//
//   format    clang-format (the checked-in .clang-format) finds no drift in native/*.cc,
//             native/*.h and test/native (native/generated/ is written by gen-native.js);
//             with --fix it formats them instead
//   lint      clang-tidy (the checked-in .clang-tidy) finds nothing in native/*.cc and
//             native's own headers
//   ctest     builds the C++ kernel tests (test/native, -DBLASNET_TESTS=ON) and runs them
//   sanitize  the same with AddressSanitizer and UndefinedBehaviorSanitizer
//   aarch64   cross-compiles the addon and the tests for 64-bit ARM Linux
//             (cmake/aarch64-linux-gnu.cmake) and runs the tests under qemu-user
//   all       every one of them, in that order
//
// Builds go to build-native/<check>/ (not build/, which `npm install` owns). --json FILE writes
// the counts in the shape of jest's --json output (numPassedTests, numFailedTests), so that CI's
// summary line adds them up: one test per format or lint check and per aarch64 build, one per
// ctest test. Exit status 0 when every check passed.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const jobs = String(typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
const CHECKS = ['format', 'lint', 'ctest', 'sanitize', 'aarch64'];

// The apt packages that provide each tool (named in the message when one is missing).
const PACKAGES = {
  'clang-format': 'clang-format',
  'clang-tidy': 'clang-tidy',
  cmake: 'cmake',
  ctest: 'cmake',
  'aarch64-linux-gnu-g++': 'g++-aarch64-linux-gnu',
  'aarch64-linux-gnu-nm': 'binutils-aarch64-linux-gnu',
  'qemu-aarch64': 'qemu-user',
};

class CheckError extends Error {}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error && r.error.code === 'ENOENT') {
    throw new CheckError(`${cmd} not found (apt-get install -y ${PACKAGES[cmd] || cmd})`);
  }
  return r;
}

// Runs a command whose output matters only when it fails.
function quiet(what, cmd, args, opts) {
  const r = run(cmd, args, opts);
  if (r.status !== 0) {
    const out = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n');
    console.error(out.slice(-60).join('\n'));
    throw new CheckError(`${what} failed (${cmd} exit ${r.status})`);
  }
  return r;
}

function files(dir, pattern) {
  return fs
    .readdirSync(path.join(root, dir))
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

function nativeSources() {
  return files('native', /\.(cc|h)$/);
}

// ---- the checks: each returns { passed, failed } ----

function format(opts) {
  const list = nativeSources().concat(files('test/native', /\.(cc|h)$/));
  if (opts.fix) {
    quiet('clang-format -i', 'clang-format', ['-i', '--style=file', ...list]);
    console.log(`formatted ${list.length} files`);
    return { passed: 1, failed: 0 };
  }
  const r = run('clang-format', ['--dry-run', '-Werror', '--style=file', ...list]);
  if (r.status === 0) {
    console.log(`${list.length} files formatted as .clang-format says`);
    return { passed: 1, failed: 0 };
  }
  const drift = [...new Set([...(r.stderr || '').matchAll(/^(\S+?):\d+:\d+: error/gm)].map((m) => path.relative(root, m[1])))];
  console.error((r.stderr || '').split('\n').slice(0, 40).join('\n'));
  console.error(`not formatted: ${drift.join(', ') || '(see above)'}; fix with \`npm run format:native\``);
  return { passed: 0, failed: 1 };
}

// Configures build-native/<name> (compile_commands.json included) and returns its path.
function configure(name, extra) {
  const dir = path.join('build-native', name);
  quiet(`cmake configure (${dir})`, 'cmake', ['-S', '.', '-B', dir, '-DBLASNET_TESTS=ON', ...extra]);
  return dir;
}

function lint() {
  const dir = configure('release', ['-DCMAKE_BUILD_TYPE=Release']);
  const sources = files('native', /\.cc$/);
  // One clang-tidy process per core.
  const results = [];
  let next = 0;
  const width = Math.max(1, Number(jobs));
  const { spawn } = require('child_process');
  return new Promise((resolve, reject) => {
    let active = 0;
    const launch = () => {
      while (active < width && next < sources.length) {
        const file = sources[next++];
        active++;
        const child = spawn('clang-tidy', ['-p', dir, '--quiet', file], { cwd: root });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('error', (e) => reject(e.code === 'ENOENT' ? new CheckError('clang-tidy not found (apt-get install -y clang-tidy)') : e));
        child.on('close', (code) => {
          results.push({ file, code, out });
          active--;
          if (results.length === sources.length) resolve(results);
          else launch();
        });
      }
    };
    launch();
  }).then((all) => {
    const bad = all.filter((r) => r.code !== 0 || /(warning|error):/.test(r.out));
    for (const r of bad) console.error(r.out.trim());
    if (bad.length === 0) {
      console.log(`clang-tidy: ${sources.length} files, no findings`);
      return { passed: 1, failed: 0 };
    }
    console.error(`clang-tidy: findings in ${bad.map((r) => r.file).join(', ')}`);
    return { passed: 0, failed: 1 };
  });
}

// Builds the test program in build-native/<name> and runs ctest there.
function ctestIn(name, extra, env) {
  const dir = configure(name, extra);
  quiet(`build (${dir})`, 'cmake', ['--build', dir, '-j', jobs, '--target', 'blasnet_native_tests']);
  const r = run('ctest', ['--test-dir', dir, '--output-on-failure', '-j', jobs], {
    env: { ...process.env, ...env },
  });
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  const m = /(\d+)% tests passed, (\d+) tests? failed out of (\d+)/.exec(out);
  if (r.status !== 0 || !m) console.error(out.trim().split('\n').slice(-80).join('\n'));
  if (!m) return { passed: 0, failed: 1 };
  const failed = Number(m[2]);
  const total = Number(m[3]);
  console.log(`ctest (${dir}): ${total - failed} of ${total} passed`);
  return { passed: total - failed, failed: failed + (r.status !== 0 && failed === 0 ? 1 : 0) };
}

function ctest() {
  return ctestIn('release', ['-DCMAKE_BUILD_TYPE=Release'], {});
}

function sanitize() {
  // Leaks too; UBSan stops at the first finding (the build sets -fno-sanitize-recover).
  return ctestIn('sanitize', ['-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DBLASNET_SANITIZE=address,undefined'], {
    ASAN_OPTIONS: 'detect_leaks=1:strict_string_checks=1',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  });
}

function aarch64() {
  const toolchain = path.join(root, 'cmake', 'aarch64-linux-gnu.cmake');
  if (!fs.existsSync('/usr/lib/aarch64-linux-gnu/pkgconfig/openblas.pc')) {
    throw new CheckError(
      'OpenBLAS for arm64 not found: dpkg --add-architecture arm64 && apt-get update && ' +
        'apt-get install -y libopenblas-dev:arm64 libstdc++6:arm64',
    );
  }
  run('aarch64-linux-gnu-g++', ['--version']);
  run('qemu-aarch64', ['--version']);
  const dir = configure('aarch64', ['-DCMAKE_BUILD_TYPE=Release', `-DCMAKE_TOOLCHAIN_FILE=${toolchain}`]);
  // The addon itself, as `npm install` would build it on an ARM machine (Node's napi_* symbols
  // stay undefined until Node loads it), and the test program.
  quiet(`build (${dir})`, 'cmake', ['--build', dir, '-j', jobs]);
  const addon = path.join(root, dir, 'blasnet.node');
  const head = fs.readFileSync(addon).subarray(0, 20);
  const EM_AARCH64 = 183;
  const elf = head.subarray(0, 4).toString('latin1') === '\x7fELF';
  const machine = head.readUInt16LE(18);
  const exported = run('aarch64-linux-gnu-nm', ['-D', '--defined-only', addon]).stdout || '';
  let build = { passed: 1, failed: 0 };
  if (!elf || machine !== EM_AARCH64 || !/\bnapi_register_module_v1\b/.test(exported)) {
    console.error(`${addon}: not an AArch64 Node-API addon (ELF ${elf}, machine ${machine})`);
    build = { passed: 0, failed: 1 };
  } else {
    console.log(`${path.relative(root, addon)}: AArch64 addon built (${fs.statSync(addon).size} bytes)`);
  }
  const tests = ctestIn('aarch64', [], {});
  return { passed: build.passed + tests.passed, failed: build.failed + tests.failed };
}

const STEPS = { format, lint, ctest, sanitize, aarch64 };

async function main() {
  const argv = process.argv.slice(2);
  const opts = { fix: false, json: null };
  const wanted = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--fix') opts.fix = true;
    else if (a === '--json') opts.json = argv[++i];
    else if (a === 'all') wanted.push(...CHECKS);
    else if (CHECKS.includes(a)) wanted.push(a);
    else {
      console.error(`native-check: unknown check '${a}' (one or more of ${CHECKS.join(', ')}, all; --fix, --json FILE)`);
      process.exit(2);
    }
  }
  if (wanted.length === 0) {
    console.error(`usage: node scripts/native-check.js <${CHECKS.join('|')}|all>... [--fix] [--json FILE]`);
    process.exit(2);
  }
  let passed = 0;
  let failed = 0;
  const checks = [];
  for (const name of wanted) {
    const t0 = Date.now();
    console.log(`native-check: ${name}`);
    let r;
    try {
      r = await STEPS[name](opts);
    } catch (e) {
      if (!(e instanceof CheckError)) throw e;
      console.error(`native-check: ${name}: ${e.message}`);
      r = { passed: 0, failed: 1 };
    }
    const seconds = (Date.now() - t0) / 1000;
    console.log(`native-check: ${name} ${r.failed === 0 ? 'passed' : 'FAILED'} (${seconds.toFixed(1)} s)`);
    checks.push({ name, ...r, seconds });
    passed += r.passed;
    failed += r.failed;
  }
  if (opts.json) {
    fs.writeFileSync(
      path.resolve(opts.json),
      `${JSON.stringify({ numPassedTests: passed, numFailedTests: failed, numRuntimeErrorTestSuites: 0, checks }, null, 2)}\n`,
    );
  }
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
