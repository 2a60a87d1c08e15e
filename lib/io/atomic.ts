// SPDX-License-Identifier: MIT
// The one atomic file writer: data goes to a temporary file in the target's own folder, is
// flushed to the disk (fsync), renamed over the target, and the folder is flushed so that the
// rename itself survives a power cut. A crash, a signal or a full disk at any moment leaves
// either the old file or the new one, never half of one; the temporary file is removed on any
// error, and its name (`.<name>.<pid>.blasnet-<random>.tmp`) lets a later run recognise and
// clean what a killed process (kill -9) left behind.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { describe } from '../core/errors';
import { FileError, fileError } from './files';

/**
 * Names of the temporary files of writeFileAtomic: `.<target name>.<pid>.blasnet-<8 hex>.tmp`
 * (the target name cut to 100 characters); group 1 is the target name, group 2 the process id.
 */
export const ATOMIC_TEMP_RE = /^\.(.+)\.(\d+)\.blasnet-[0-9a-f]{8}\.tmp$/;

/** What writeFileAtomic writes: text (UTF-8), bytes, or a sequence of either written in order. */
export type AtomicData = string | Uint8Array | Iterable<string | Uint8Array>;

// Written by earlier versions: .<target>.<pid>.<time or random>.tmp
const LEGACY_TEMP_RE = /^\.(.+)\.(\d+)\.[0-9a-z]+\.tmp$/;

function tempName(file: string): string {
  const base = path.basename(file).slice(0, 100);
  return path.join(path.dirname(file), `.${base}.${process.pid}.blasnet-${crypto.randomBytes(4).toString('hex')}.tmp`);
}

/** The process id in the name of a temporary file of writeFileAtomic (or of earlier versions), or null. */
export function atomicTempPid(name: string): number | null {
  const m = ATOMIC_TEMP_RE.exec(name) ?? LEGACY_TEMP_RE.exec(name);
  return m ? Number(m[2]) : null;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * Writes `data` to `file` atomically: to a temporary file next to it, fsync, rename over
 * `file`, fsync of the folder. On any error the temporary file is removed, `file` is left as it
 * was, and the Error names `file` and says what happened in words (a full disk: "the disk is
 * full (no space left on the device) (ENOSPC)"). An error thrown by `data` itself (a generator)
 * is passed on unchanged, after the same clean-up.
 * @example
 *   writeFileAtomic('runs/a/results.json', JSON.stringify(results));
 *   writeFileAtomic('big.bin', [header, body]); // chunks, written in order
 */
export function writeFileAtomic(file: string, data: AtomicData): void {
  if (typeof file !== 'string' || file === '') throw new TypeError(`writeFileAtomic: file must be a non-empty path string, got ${describe(file)}`);
  const chunks: Iterable<string | Uint8Array> = typeof data === 'string' || data instanceof Uint8Array ? [data] : data;
  if (chunks === null || typeof chunks !== 'object' || typeof (chunks as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw new TypeError(`writeFileAtomic: data must be a string, a Uint8Array or an iterable of them, got ${describe(data)}`);
  }
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const tmp = tempName(target);
  let fd: number | null = null;
  try {
    try {
      fd = fs.openSync(tmp, 'wx');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new FileError(file, `${file}: cannot be written: the folder ${dir} does not exist (${code})`, code, err);
      }
      throw fileError(err, file, 'be written (creating a temporary file in its folder)');
    }
    for (const chunk of chunks) {
      let bytes: Uint8Array;
      if (typeof chunk === 'string') bytes = Buffer.from(chunk, 'utf8');
      else if (chunk instanceof Uint8Array) bytes = chunk;
      else throw new TypeError(`writeFileAtomic: every chunk of data must be a string or a Uint8Array, got ${describe(chunk)}`);
      try {
        writeAll(fd, bytes);
      } catch (err) {
        throw fileError(err, file, 'be written');
      }
    }
    const open = fd;
    try {
      fs.fsyncSync(open);
      fd = null;
      fs.closeSync(open);
    } catch (err) {
      throw fileError(err, file, 'be written (flushing it to the disk)');
    }
    try {
      fs.renameSync(tmp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new FileError(file, `${file}: cannot be written: a folder of that name is in the way (${code})`, code, err);
      }
      throw fileError(err, file, 'be written (renaming the temporary file over it)');
    }
  } catch (err) {
    if (fd !== null) {
      try { fs.closeSync(fd); } catch { /* the temporary file is removed next */ }
    }
    try { fs.rmSync(tmp, { force: true }); } catch { /* nothing more can be done */ }
    throw err;
  }
  syncFolder(dir);
}

/** fsync of a folder, so that a rename in it is on the disk; not supported everywhere (Windows), so best effort. */
function syncFolder(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // The file itself is complete and in place; only the durability of the rename is not assured.
  } finally {
    if (fd !== null) try { fs.closeSync(fd); } catch { /* read-only descriptor */ }
  }
}

/**
 * Removes from `dir` the temporary files of writeFileAtomic (and of earlier blasnet versions)
 * that no running process is writing: those whose process id is not alive on this machine,
 * or that are older than `olderThanMs` (default one day). Returns the paths removed.
 * @example
 *   removeStaleTemps('runs/mnist-1'); // after a kill -9 during a save
 */
export function removeStaleTemps(dir: string, opts: { olderThanMs?: number } = {}): string[] {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`removeStaleTemps: dir must be a non-empty path string, got ${describe(dir)}`);
  const olderThanMs = opts.olderThanMs ?? 24 * 3600 * 1000;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw fileError(err, dir, 'be listed');
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    const pid = atomicTempPid(name);
    if (pid === null || pid === process.pid) continue;
    const p = path.join(dir, name);
    let stale = !alive(pid);
    if (!stale) {
      try {
        stale = now - fs.lstatSync(p).mtimeMs > olderThanMs;
      } catch {
        continue;
      }
    }
    if (!stale) continue;
    try {
      fs.rmSync(p, { force: true });
      removed.push(p);
    } catch (err) {
      throw fileError(err, p, 'be removed (a leftover temporary file)');
    }
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
