// SPDX-License-Identifier: MIT
// Reading files defensively: only regular files are opened for data (a FIFO would block for
// ever, /dev/zero would never end), sizes come from the open file itself, reads are exact, and
// every error names the path and says in words what went wrong (a full disk included).
import * as fs from 'fs';

/** An I/O error that names its path; `code` is the system's (ENOENT, ENOSPC, ...) when there is one. */
export class FileError extends Error {
  readonly file: string;
  readonly code: string | undefined;

  constructor(file: string, message: string, code?: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'FileError';
    this.file = file;
    this.code = code;
  }
}

const PLAIN: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  ENOSPC: 'the disk is full (no space left on the device)',
  EDQUOT: 'the disk quota is exceeded',
  EFBIG: 'the file is larger than the system allows (file size limit)',
  EROFS: 'the file system is read-only',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ENAMETOOLONG: 'the name is too long',
  EIO: 'input/output error (a failing disk or device)',
  EEXIST: 'it already exists',
  ELOOP: 'too many symbolic links',
  EBUSY: 'the file or device is busy',
  EXDEV: 'source and target are on different file systems',
};

/**
 * An Error for a failed file operation: `<path>: cannot <action>: <what it means> (<CODE>)`.
 * `action` is a verb phrase such as 'read', 'write', 'create the temporary file'.
 * @example
 *   try { fs.writeSync(fd, bytes); } catch (err) { throw fileError(err, file, 'write'); }
 */
export function fileError(err: unknown, file: string, action: string): FileError {
  if (err instanceof FileError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const plain = code !== undefined ? PLAIN[code] : undefined;
  const detail = plain !== undefined ? `${plain} (${code})` : (e?.message ?? String(err));
  return new FileError(file, `${file}: cannot ${action}: ${detail}`, code, err);
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** An open regular file: its descriptor and its size when opened. Close it with `closeQuietly`. */
export interface OpenFile {
  fd: number;
  size: number;
  file: string;
}

/**
 * Opens `file` for reading only if it is a regular file. It is opened without blocking (a FIFO
 * would otherwise wait for a writer for ever) and checked with fstat on the open descriptor, so
 * what is checked is what is read. `what` names the expected content in the error, e.g.
 * 'a safetensors file'.
 * @example
 *   const f = openRegularFile('model.safetensors', 'a safetensors file');
 *   try { ... readExactly(f, buf, 0) ... } finally { closeQuietly(f); }
 */
export function openRegularFile(file: string, what: string): OpenFile {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FileError(file, `${file}: file not found`, code, err);
    if (code === 'EISDIR') throw new FileError(file, `${file}: is a folder, not ${what}`, code, err);
    throw fileError(err, file, 'be opened for reading');
  }
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    throw fileError(err, file, 'be examined');
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new FileError(file, `${file}: is ${kindOf(st)}, not ${what}; only regular files are read`);
  }
  return { fd, size: st.size, file };
}

/** Closes an OpenFile, ignoring errors (used in finally blocks after a read already failed or succeeded). */
export function closeQuietly(f: OpenFile): void {
  try {
    fs.closeSync(f.fd);
  } catch {
    // Closing a descriptor opened only for reading cannot lose data.
  }
}

/**
 * Fills `into` from byte `position` of the file, looping over short reads; a file that ends
 * early (it shrank since it was opened) is an error naming it.
 */
export function readExactly(f: OpenFile, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    let n: number;
    try {
      n = fs.readSync(f.fd, into, done, into.length - done, position + done);
    } catch (err) {
      throw fileError(err, f.file, 'be read');
    }
    if (n === 0) {
      throw new FileError(f.file, `${f.file}: ended after ${position + done} bytes while ${position + into.length} ` +
        'were expected (was it changed or truncated while being read?)');
    }
    done += n;
  }
}
