// SPDX-License-Identifier: MIT
// Where the package lives, without loading the addon (data loading needs no native code).
import * as fs from 'fs';
import * as path from 'path';

/** The package root, from lib/*.ts (ts-jest) and from dist/lib/*.js alike. */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'native'))) {
      return dir;
    }
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
}
