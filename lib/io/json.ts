// SPDX-License-Identifier: MIT
// JSON from files, parsed strictly: JSON.parse keeps the last of two equal keys without a word,
// so a header could say one thing to blasnet and another to a different reader. Duplicates are
// found by one iterative pass over the text (no recursion: nesting depth cannot overflow the stack).

/** Where a duplicate key was found: the key and the path of the object holding it, e.g. `$["W1"]`. */
export interface DuplicateKey {
  key: string;
  path: string;
}

interface Frame {
  object: boolean;
  keys: Set<string> | null;
  expectKey: boolean;
  /** The key (object) or index (array) under which this container sits in its parent. */
  label: string;
  /** Next array index (arrays only). */
  index: number;
}

function pathOf(stack: Frame[]): string {
  let p = '$';
  for (let i = 1; i < stack.length; i++) p += stack[i].label;
  return p;
}

/**
 * The first key that occurs twice in one object of `text`, or null. `text` must already be
 * valid JSON (parse it with JSON.parse first): this pass only tracks structure.
 * @example
 *   findDuplicateKey('{"a": 1, "a": 2}'); // { key: 'a', path: '$' }
 */
export function findDuplicateKey(text: string): DuplicateKey | null {
  const stack: Frame[] = [];
  let pendingKey = '';
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          escaped = true;
          i++;
        } else if (d === 0x22) {
          break;
        }
      }
      const top = stack[stack.length - 1];
      if (top !== undefined && top.object && top.expectKey) {
        // Keys are compared decoded: "a" and "\u0061" are the same key.
        const raw = text.slice(start + 1, i);
        const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : raw;
        if (top.keys!.has(key)) return { key, path: pathOf(stack) };
        top.keys!.add(key);
        pendingKey = key;
        top.expectKey = false;
      }
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const parent = stack[stack.length - 1];
      let label = '';
      if (parent !== undefined) label = parent.object ? `[${JSON.stringify(pendingKey)}]` : `[${parent.index}]`;
      stack.push({ object: c === 0x7b, keys: c === 0x7b ? new Set() : null, expectKey: true, label, index: 0 });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top.object) top.expectKey = true;
      else top.index++;
    }
  }
  return null;
}

/**
 * How deeply arrays and objects nest in `text` (strings skipped), counted without parsing, so
 * that a header of a million '[' can be refused before JSON.parse spends memory on it.
 * @example
 *   nestingDepth('{"a": [1, [2]]}'); // 3
 */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return max;
}
